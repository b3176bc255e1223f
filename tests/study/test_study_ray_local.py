"""`--ray` starts a runtime of its own: on a shared machine `ray.init()` without an address
joins whatever cluster another user started with `ray start --head` (and then refuses
num_cpus), so the local runtime is asked for explicitly."""
import sys
import types

from memplan.study.run import RayBackend


def test_a_local_runtime_is_started_not_joined(monkeypatch):
    calls = []
    fake = types.SimpleNamespace(init=lambda **kw: calls.append(kw), cluster_resources=lambda: {"CPU": 2.0},
                                 remote=lambda **kw: (lambda f: f), shutdown=lambda: None)
    monkeypatch.setitem(sys.modules, "ray", fake)
    backend = RayBackend(jobs=2)
    assert calls[0]["address"] == "local" and calls[0]["num_cpus"] == 2
    assert (backend.workers, backend.name) == (2, "ray")
