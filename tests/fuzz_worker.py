"""Child process of isolated.run_cases: runs a target on pickled cases from stdin."""

from __future__ import annotations

import importlib
import pickle
import resource
import signal
import sys
import warnings


class Hang(BaseException):
    pass


def _alarm(signum, frame):
    raise Hang


def main() -> None:
    target, cases, memory, seconds = pickle.loads(sys.stdin.buffer.read())
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    module, name = target.split(":")
    fn = getattr(importlib.import_module(module), name)
    signal.signal(signal.SIGALRM, _alarm)
    warnings.simplefilter("ignore")
    out = []
    for i, case in enumerate(cases):
        print(f"CASE {i}", flush=True)
        signal.alarm(seconds)
        try:
            out.append(("ok", repr(fn(case))[:200]))
        except Hang:
            print(f"case {i} ran for more than {seconds} s", file=sys.stderr, flush=True)
            sys.exit(3)
        except MemoryError as e:  # a limit should have refused it first
            out.append(("error", "MemoryError", f"MemoryError: {e}"[:500]))
        except Exception as e:  # recorded as the documented base class it derives from, if any
            kind = next((k.__name__ for k in (ValueError, TypeError) if isinstance(e, k)), type(e).__name__)
            out.append(("error", kind, f"{type(e).__name__}: {e}"[:500]))
        finally:
            signal.alarm(0)
    sys.stdout.write("RESULTS\n")
    sys.stdout.flush()
    sys.stdout.buffer.write(pickle.dumps(out))


if __name__ == "__main__":
    main()
