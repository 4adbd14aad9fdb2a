"""Creating rollouts and acting on them: what the API and ``kendali rollout`` share.

Creating one checks the release first with the gateways' own check (a release the controller
would refuse to serve is never rolled out), resolves the targets (a site, or a list of gateway
ids), merges the policy over the configured defaults and writes everything in one transaction.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, ValidationError, model_validator

from controller.rollouts import observe
from controller.rollouts.config import ReleasesSection, RolloutsSection
from controller.rollouts.policy import RolloutPolicy
from controller.rollouts.releases import ReleaseLibrary, ReleaseUnavailable
from controller.rollouts.store import RolloutConflict, RolloutStore
from protocol.commands import CommandError
from strictmodel import StrictModel

GATEWAY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
URL_MAX = 128  # a command argument's limit (protocol.commands.ARG_MAX)
MAX_TARGETS = 10_000


class RolloutRefused(ValueError):
    """A rollout that cannot be created as asked; the message says what to change."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class NewRollout(StrictModel):
    version: str = Field(min_length=1, max_length=64, description="Release version to roll out.")
    site: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Every gateway of a site."
    )
    gateways: list[str] | None = Field(
        default=None, max_length=MAX_TARGETS, description="Or these gateway ids."
    )
    tag: str | None = Field(
        default=None,
        max_length=64,
        description="Reserved: gateways carry no tags yet, so a tag is refused.",
    )
    policy: dict[str, Any] = Field(
        default_factory=dict,
        description="Any RolloutPolicy field (waves, success_threshold, failure_threshold, "
        "gateway_timeout_s, windows, timezone, allow_downgrade) over the defaults.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> NewRollout:
        given = [n for n in ("site", "gateways", "tag") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one target: site, gateways or tag")
        return self


class Rollouts:
    def __init__(
        self,
        store: RolloutStore,
        settings: RolloutsSection,
        releases: ReleasesSection | None,
        library: ReleaseLibrary | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.releases = releases
        self.library = library
        if library is None and releases is not None:
            self.library = ReleaseLibrary(releases.dir, releases.trust_file, clock=store.clock)

    def create(self, request: NewRollout, who: str, source: str = "") -> str:
        if self.releases is None or self.library is None:
            raise RolloutRefused(
                "this controller serves no releases: add a releases: section (dir, trust_file, "
                "base_url) to its configuration",
                code="releases_off",
            )
        policy = self.policy(request.policy)
        try:
            self.library.manifest(request.version)
        except ReleaseUnavailable as exc:
            raise RolloutRefused(str(exc), code=f"release_{exc.code}") from exc
        url = f"{self.releases.base_url.rstrip('/')}/api/v1/releases/{request.version}/"
        if len(url) > URL_MAX:
            raise RolloutRefused(
                f"release URL {url} is over {URL_MAX} characters: shorten base_url"
            )
        try:  # the command the worker will send must pass the agent's own check
            observe.command_args(url, request.version, "r" * 16, policy.allow_downgrade)
        except CommandError as exc:
            raise RolloutRefused(f"the update command would be refused: {exc}") from exc
        targets, target = self._targets(request)
        try:
            return self.store.create(
                version=request.version,
                release_url=url,
                targets=targets,
                target=target,
                policy=policy,
                who=who,
                source=source,
            )
        except RolloutConflict as exc:
            raise RolloutRefused(str(exc), code="conflict") from exc

    def policy(self, overrides: dict[str, Any]) -> RolloutPolicy:
        base = self.settings.defaults.model_dump(mode="json")
        try:
            return RolloutPolicy.model_validate({**base, **overrides})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "policy"
            msg = str(err["msg"]).removeprefix("Value error, ")
            raise RolloutRefused(f"{where}: {msg}") from None

    def _targets(self, request: NewRollout) -> tuple[list[str], dict[str, Any]]:
        if request.tag is not None:
            raise RolloutRefused(
                "gateways have no tags yet; target a site or list the gateways", code="no_tags"
            )
        if request.site is not None:
            ids = self.store.site_gateways(request.site)
            if not ids:
                raise RolloutRefused(f"site {request.site} has no gateways")
            return ids, {"site": request.site}
        ids = sorted(set(request.gateways or []))
        bad = [g for g in ids if not GATEWAY_ID.match(g)]
        if bad or not ids:
            raise RolloutRefused(
                f"gateways: not gateway ids: {bad[:5]}" if bad else "gateways: empty"
            )
        unknown = sorted(set(ids) - self.store.known(ids))
        if unknown:
            raise RolloutRefused(
                f"unknown gateways (never seen, no site): {', '.join(unknown[:5])}"
            )
        return ids, {"gateways": ids}
