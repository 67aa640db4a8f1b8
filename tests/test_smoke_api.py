from tests.conftest import Api


def test_issue_and_call(api: Api) -> None:
    t = api.issue("A")
    assert t["number"] == "A001"
    called = api.call_next("1")
    assert called is not None and called["id"] == t["id"] and called["status"] == "called"
