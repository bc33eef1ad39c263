import pytest
from tests.operator import harness

pytestmark = pytest.mark.e2e

def test_smoke(kube, operator):
    kube.secret("db", {"url": "postgresql://x"})
    kube.apply("m1", {"database": {"engine": "postgresql", "secretRef": {"name": "db", "urlKey": "url"}},
                      "migrations": {"image": {"image": "dbmigrate:test", "command": ["python", "/tmp/opdebug/fakecli.py"]}},
                      "backup": {"policy": "Skip"}})
    obj = kube.wait_phase("m1", "Succeeded", "Failed", "Blocked", "RolledBack", timeout=60)
    print(obj["status"])
    print(kube.jobs())
    print(kube.events("m1"))
    assert obj["status"]["phase"] == "Succeeded"
