"""Installs impala_tf, its binaries (as console scripts) and its presets."""

import setuptools

setuptools.setup(
    name='impala_tf',
    version='0.1.0',
    description='IMPALA and V-trace for TensorFlow 2 / Keras, on Reverb.',
    python_requires='>=3.11,<3.12',
    # The binaries and presets keep their places in the repository tree
    # (binaries/, configs/) and install under namespaced package names.
    packages=(setuptools.find_packages(include=['impala_tf', 'impala_tf.*'])
              + ['impala_tf_binaries', 'impala_tf_configs']),
    package_dir={
        'impala_tf': 'impala_tf',
        'impala_tf_binaries': 'binaries',
        'impala_tf_configs': 'configs',
    },
    install_requires=[
        'absl-py==2.5.1',
        'ale-py==0.12.1',
        'bsuite==0.3.6',
        'dm-reverb==0.14.0',
        'gymnasium==1.3.0',
        'imageio==2.38.1',
        'matplotlib==3.11.2',
        'minigrid==3.2.0',
        'ml_collections==1.1.0',
        'numpy==1.26.4',
        'psutil==7.2.2',
        'PyYAML==6.0.3',
        'tensorflow==2.15.1',
        'tensorflow-probability==0.23.0',
        'tf-agents==0.19.0',
    ],
    extras_require={
        # Melting Pot's Capture the Flag for FTW (docs/ftw.md, "Install":
        # run tools/meltingpot_assets.py first to build it offline). The
        # pins keep jax, chex and OpenCV at releases that install beside
        # TensorFlow 2.15 and numpy 1.26 (requirements.txt).
        'ctf': [
            'dm-meltingpot==2.4.1',
            'dmlab2d==1.0.2',
            'chex==0.1.90',
            'jax==0.4.34',
            'jaxlib==0.4.34',
            'opencv-python==4.11.0.86',
            'reactivex==4.1.0',
            'toolz==1.2.0',
        ],
    },
    entry_points={
        'console_scripts': [
            'impala-learner=impala_tf_binaries.learner:run',
            'impala-actor=impala_tf_binaries.actor:run',
            'impala-train-local=impala_tf_binaries.train_local:run',
            'impala-export=impala_tf_binaries.export:run',
            'impala-evaluate=impala_tf_binaries.evaluate:run',
            'impala-plot=impala_tf_binaries.plot:run',
            'impala-launch-cloud=impala_tf_binaries.launch_cloud:run',
            'impala-cloud-entrypoint=impala_tf_binaries.cloud_entrypoint:run',
        ],
    },
)
