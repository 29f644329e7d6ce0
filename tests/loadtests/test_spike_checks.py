"""What counts as a right answer for the spike's customers: a self-help redirect in an
outage is a success; a 5xx, no answer or a wrong page is a failure."""

from __future__ import annotations

import pytest

from loadtests.spike.checks import (
    SELF_HELP,
    check_callback,
    check_page,
    check_redirect,
    check_support,
    self_help_target,
    topic_query,
)
from loadtests.spike.profile import Expect

PAGE = "<html><h1>Setting up your router</h1><p>Call center primary</p></html>"


def support(
    status: int,
    *,
    location: str | None = None,
    served_by: str | None = None,
    body: str = "",
    expected: Expect = Expect.EITHER,
) -> tuple[bool, str, str | None]:
    v = check_support(status=status, location=location, served_by=served_by, body=body,
                      topic="router/setup", expected=expected)  # fmt: skip
    return v.ok, v.reason, v.destination


def test_the_self_help_target_is_the_topic_words_as_a_same_site_search() -> None:
    assert topic_query("account/password-reset") == "account password reset"
    assert self_help_target("router/setup") == "/help/search?q=router+setup"


def test_a_self_help_redirect_during_an_outage_is_a_success() -> None:
    target = "/help/search?q=router+setup"
    assert support(303, location=target, expected=Expect.SELF_HELP) == (True, "", SELF_HELP)


def test_a_self_help_redirect_while_the_call_centers_are_up_is_a_failure() -> None:
    ok, reason, where = support(303, location="/help/search?q=router+setup",
                                expected=Expect.CALL_CENTER)  # fmt: skip
    assert not ok
    assert "call centers were up" in reason
    assert where == SELF_HELP


@pytest.mark.parametrize(
    "location",
    [
        "http://evil.example/help/search?q=router+setup",
        "//evil.example/help",
        "/help/search?q=billing",
        None,
    ],
)
def test_a_redirect_anywhere_but_the_topics_search_is_a_wrong_page(location: str | None) -> None:
    ok, reason, _ = support(303, location=location, expected=Expect.SELF_HELP)
    assert not ok
    assert "redirect to" in reason


def test_the_call_centers_page_from_a_call_center_is_a_success() -> None:
    assert support(200, served_by="primary", body=PAGE) == (True, "", "primary")


def test_a_call_center_page_for_another_topic_is_a_wrong_page() -> None:
    ok, reason, _ = support(200, served_by="backup", body="<h1>Billing questions</h1>")
    assert (ok, reason) == (False, "wrong call-center page")


def test_a_200_that_no_call_center_served_is_a_wrong_page() -> None:
    ok, reason, _ = support(200, served_by=None, body=PAGE)
    assert not ok
    assert "not from a call center" in reason


def test_an_answer_from_a_call_center_that_is_down_is_a_failure() -> None:
    ok, reason, _ = support(200, served_by="primary", body=PAGE, expected=Expect.SELF_HELP)
    assert (ok, reason) == (False, "answered by a call center that is down")


@pytest.mark.parametrize(("status", "reason"), [(502, "HTTP 502"), (503, "HTTP 503"),
                                                (0, "no answer (connection error or timeout)"),
                                                (404, "HTTP 404")])  # fmt: skip
def test_a_5xx_no_answer_or_an_error_is_a_failure(status: int, reason: str) -> None:
    assert support(status) == (False, reason, None)


def test_a_page_is_right_only_with_a_200_and_its_marker() -> None:
    assert check_page(status=200, body="<h1>How can we help?</h1>", marker="How can we").ok
    assert check_page(status=200, body="<h1>Oops</h1>", marker="How can we").reason == "wrong page"
    assert check_page(status=500, body="How can we", marker="How can we").reason == "HTTP 500"
    assert check_page(status=304, body="", marker="x").reason == "HTTP 304"


def test_a_vote_is_answered_with_a_303_back_to_its_bulletin() -> None:
    target = "/help/bulletins/7?voted=1"
    assert check_redirect(status=303, location=target, target=target).ok
    assert not check_redirect(status=200, location=None, target=target).ok
    assert not check_redirect(status=303, location="/help/bulletins/8?voted=1", target=target).ok
    assert check_redirect(status=0, location=None, target=target).reason.startswith("no answer")


def test_a_callback_needs_a_202_with_a_ticket() -> None:
    assert check_callback(status=202, ticket="cb-123").ok
    assert check_callback(status=202, ticket=None).reason == "202 without a ticket"
    assert check_callback(status=503, ticket=None).reason == "HTTP 503"
    assert check_callback(status=422, ticket=None).reason == "HTTP 422, not 202"
