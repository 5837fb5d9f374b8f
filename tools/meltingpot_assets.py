"""Writes the empty asset archive that lets dm-meltingpot build offline.

dm-meltingpot 2.4.1's setup.py downloads an asset archive (bots' and
scenarios' saved models) from storage.googleapis.com unless a copy named
meltingpot-assets-2.3.0.tar.gz is already in the temporary directory. The
substrates, Capture the Flag among them, need none of those assets, so an
archive holding only an empty assets/ folder lets the build go on without
that host (docs/ftw.md, "Install"):

  python3.11 tools/meltingpot_assets.py
  .venv/bin/pip install -r requirements.txt -e '.[ctf]'

An archive already there is left as it is (it may be the real one).
"""

import io
import os
import tarfile
import tempfile

# setup.py's ASSETS_VERSION in dm-meltingpot 2.4.1.
ARCHIVE = 'meltingpot-assets-2.3.0.tar.gz'


def main():
  path = os.path.join(tempfile.gettempdir(), ARCHIVE)
  if os.path.exists(path):
    print(f'{path} exists; left as it is')
    return
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
    folder = tarfile.TarInfo('assets')
    folder.type = tarfile.DIRTYPE
    folder.mode = 0o755
    tar.addfile(folder)
  with open(path, 'wb') as f:
    f.write(buffer.getvalue())
  print(f'wrote {path}: an empty assets/ folder')


if __name__ == '__main__':
  main()
