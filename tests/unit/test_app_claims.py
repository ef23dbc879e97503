"""App names stay unique across the sources of one serve: a clash holds the app in both
sources, and each source learns of a clash (or its end) from the other's pass."""

from __future__ import annotations

from gitberth.app_claims import AppClaims, hold_clashes
from gitberth.core.errors import stalling_codes
from gitberth.core.manifests import LoadResult
from gitberth.core.plan import DesiredState
from gitberth.core.reports import AppStatus
from gitberth.core.sync_status import ErrorClass, classify
from gitberth.reconciler import Desired


def desired(*names: str, held: tuple[str, ...] = ()) -> Desired:
    return Desired(
        DesiredState("sha", dict.fromkeys(names), {name: "invalid manifest" for name in held}),  # type: ignore[arg-type]
        LoadResult(apps={}),
        {},
    )


def test_a_name_only_one_source_declares_is_left_alone() -> None:
    claims = AppClaims()
    claims.register("a", lambda reason: None)
    original = desired("web")
    assert claims.holder("a")(original) is original


def test_a_name_two_sources_declare_is_held_in_both_and_both_are_told() -> None:
    claims = AppClaims()
    woken: list[tuple[str, str]] = []
    claims.register("a", lambda reason: woken.append(("a", reason)))
    claims.register("b", lambda reason: woken.append(("b", reason)))
    first = claims.holder("a")(desired("web", "shop"))
    assert set(first.state.apps) == {"web", "shop"}

    second = claims.holder("b")(desired("web", "blog"))
    assert set(second.state.apps) == {"blog"}
    assert second.reports["web"].code == "app_name_clash"
    assert second.reports["web"].status is AppStatus.BLOCKED
    assert "source b and by source a" in second.state.held["web"]
    assert woken == [("a", "app names of source b changed")]

    again = claims.holder("a")(desired("web", "shop"))
    assert set(again.state.apps) == {"shop"} and "web" in again.state.held
    assert claims.sources_of("web") == ["a", "b"]


def test_when_one_source_drops_the_name_the_other_applies_it_again() -> None:
    claims = AppClaims()
    woken: list[str] = []
    claims.register("a", woken.append)
    claims.register("b", lambda reason: None)
    claims.holder("a")(desired("web"))
    claims.holder("b")(desired("web"))
    woken.clear()
    claims.holder("b")(desired("blog"))
    assert woken == ["app names of source b changed"]
    assert set(claims.holder("a")(desired("web")).state.apps) == {"web"}


def test_an_app_held_for_its_own_reason_still_claims_its_name() -> None:
    claims = AppClaims()
    claims.register("a", lambda reason: None)
    claims.register("b", lambda reason: None)
    claims.holder("a")(desired(held=("web",)))
    assert "web" in claims.holder("b")(desired("web")).state.held


def test_no_clash_changes_nothing() -> None:
    original = desired("web")
    assert hold_clashes(original, {}, source="a") is original


def test_error_classes_say_whether_they_stall() -> None:
    assert stalling_codes() == {
        "invalid_manifest", "unknown_secret", "missing_secret_key", "unresolvable", "sealed",
        "prune_refused", "rollout_failed", "unhealthy", "integrity_error", "app_name_clash",
    }  # fmt: skip
    assert classify("app_name_clash") is ErrorClass.STALLED
    assert classify("image_pull_failed") is ErrorClass.WAITING
    assert classify(None) is ErrorClass.WAITING
