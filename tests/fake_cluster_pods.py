"""Runs a fake cluster's processes and reports how each ended (a test helper).

  python tests/fake_cluster_pods.py PODS_JSON TIMEOUT_SECONDS

PODS_JSON lists {"name", "argv", "env", "log"}. Every process starts at
once, as a cluster's pods do; this waits for all of them (killing any left
at the timeout) and prints one JSON line, {name: exit status or null}.
fake_cluster_test.py runs it inside a private network namespace, so the
learner's port and the Service's name exist only in there.
"""

import json
import subprocess
import sys
import time


def main(pods_path, timeout):
  with open(pods_path) as f:
    pods = json.load(f)
  procs = {}
  for pod in pods:
    with open(pod['log'], 'w') as log:
      procs[pod['name']] = subprocess.Popen(pod['argv'], env=pod['env'], stdout=log,
                                            stderr=subprocess.STDOUT)
  deadline = time.time() + timeout
  while time.time() < deadline and any(p.poll() is None for p in procs.values()):
    time.sleep(0.5)
  for proc in procs.values():
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  ended = {name: (None if time.time() >= deadline and proc.returncode < 0 else proc.returncode)
           for name, proc in procs.items()}
  print(json.dumps(ended), flush=True)


if __name__ == '__main__':
  main(sys.argv[1], float(sys.argv[2]))
