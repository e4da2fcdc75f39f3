"""A model that starts a helper process and stops it again, as models wrapping a command-line
tool or a multiprocessing pool do. strData chooses how the child starts:
  "spawn"     subprocess.Popen(["sleep", "1000"]) (fork + exec, through vfork/posix_spawn paths)
  "fork"      os.fork() with no exec (multiprocessing's fork start method)
  "hold"      os.fork() and answer at once: the child keeps its copy of the connection (and
              everything else forking gave it) until the worker is gone, at most 30 s
  "sleep:N"   no child: sleeps N seconds (a hung call)
In each case the child is sent SIGTERM (proc.terminate()) and must be gone within seconds.
The answer reports what the child started with: blocked and ignored signal masks (hex, from
/proc/<pid>/status) and what its descriptors point at, so a test can see inherited state."""
import os
import signal
import subprocess
import time


def _status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("SigBlk", "SigIgn"):
                out[key] = value.strip()
    return out


def _fds(pid):
    out = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def _gone(pid, popen=None, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if popen is not None:
            if popen.poll() is not None:
                return True
        elif os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)  # do not leave it behind, whatever the test says
    if popen is not None:
        popen.wait()
    else:
        os.waitpid(pid, 0)
    return False


class Spawner:
    def predict(self, X, names):
        if isinstance(X, str) and X.startswith("sleep:"):
            time.sleep(float(X[6:]))
            return X
        if X == "spawn":
            p = subprocess.Popen(["sleep", "1000"])
            time.sleep(0.2)  # exec'd: its /proc entry now shows sleep's state
            info = {**_status(p.pid), "fds": _fds(p.pid)}
            p.terminate()
            info["terminated"] = _gone(p.pid, popen=p)
            return info
        if X == "hold":
            parent = os.getpid()
            if os.fork() == 0:
                for _ in range(300):
                    if os.getppid() != parent:
                        break
                    time.sleep(0.1)
                os._exit(0)
            return X
        if X == "fork":
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                os.write(w, b"x")
                os.close(w)
                try:
                    time.sleep(1000)
                finally:
                    os._exit(0)
            os.close(w)
            os.read(r, 1)  # the child runs: its state is what fork gave it
            os.close(r)
            info = {**_status(pid), "fds": _fds(pid)}
            os.kill(pid, signal.SIGTERM)
            info["terminated"] = _gone(pid)
            return info
        return X
