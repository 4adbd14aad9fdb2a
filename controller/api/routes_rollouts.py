"""Rollouts (create: admin; pause, resume, abort: operator; reading: any user) and the release
files gateways download.

``GET /releases/{version}/{file}`` takes no login. Gateways have no API account, and a download
token would have to travel in the update command, an MQTT payload, where no credential may go.
Nothing secret is served: only ``manifest.json``, ``manifest.sig`` and the files a manifest lists
that verifies against the controller's trust file, and a gateway checks the signature and every
hash again before it installs anything, so whoever fetches or alters the bytes gains nothing.
Ranges let a gateway on a 4G link resume a cut download (206, 416 with the size).

``GET /firmware/{rollout_id}`` serves a camera firmware rollout's pinned image the same way and
for the same reason: gateways have no account, and the image is a vendor's download. It is served
only while the file's SHA-256 is the one pinned at creation, and the gateway checks that SHA-256
again before anything reaches a camera.

The controller sets ``app.state.rollouts``; without it (an app built without the controller's
wiring) these routes answer 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path as FilePath
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from controller.api.deps import AdminUser, AnyUser, OperatorUser
from controller.api.errors import ApiError, not_found
from controller.rollouts.cameras import KIND as CAMERA_FIRMWARE
from controller.rollouts.cameras import ImageRefused
from controller.rollouts.manager import NewRollout, RolloutRefused, Rollouts
from controller.rollouts.ranges import Unsatisfiable, byte_range, content_range
from controller.rollouts.releases import ReleaseUnavailable
from controller.rollouts.store import RolloutConflict, RolloutNotFound, Stale

router = APIRouter(tags=["rollouts"])

RolloutId = Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$", description="Rollout id.")]
Version = Annotated[str, Path(pattern=r"^[0-9][0-9A-Za-z.+!_-]{0,63}$")]
FileName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")]
CHUNK = 64 * 1024


def rollouts(request: Request) -> Rollouts:
    service: Rollouts | None = getattr(request.app.state, "rollouts", None)
    if service is None:
        raise ApiError(404, "rollouts are not available on this server", code="rollouts_off")
    return service


def _refused(exc: RolloutRefused) -> ApiError:
    status = 409 if exc.code == "conflict" else 422
    if exc.code == "releases_off":
        status = 404
    return ApiError(status, str(exc), code=exc.code)


@router.post("/rollouts", status_code=201)
async def create_rollout(body: NewRollout, who: AdminUser, request: Request) -> dict[str, Any]:
    """Start rolling a release out (admin). The release must verify against the controller's
    trust file; the policy fields left out take the configured defaults."""
    service = rollouts(request)
    try:
        rollout_id = await anyio.to_thread.run_sync(
            lambda: service.create(body, who.who, who.source)
        )
    except RolloutRefused as exc:
        raise _refused(exc) from exc
    return await anyio.to_thread.run_sync(service.store.get, rollout_id)


@router.get("/rollouts")
def list_rollouts(
    who: AnyUser,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Newest first, with each one's gateway counts per status."""
    return {"items": rollouts(request).store.recent(limit)}


@router.get("/rollouts/{rollout_id}")
def get_rollout(rollout_id: RolloutId, who: AnyUser, request: Request) -> dict[str, Any]:
    """The rollout, its waves (size, committed needed, counts per status) and every gateway's
    status, reason and progress."""
    try:
        return rollouts(request).store.get(rollout_id)
    except RolloutNotFound as exc:
        raise not_found(f"rollout {rollout_id}") from exc


def _act(request: Request, rollout_id: str, action: str, who: OperatorUser) -> dict[str, Any]:
    try:
        return rollouts(request).store.act(rollout_id, action, who.who, who.source)
    except RolloutNotFound as exc:
        raise not_found(f"rollout {rollout_id}") from exc
    except RolloutConflict as exc:
        raise ApiError(409, str(exc), code="conflict") from exc
    except Stale as exc:
        raise ApiError(409, "the rollout kept changing; try again", code="busy") from exc


@router.post("/rollouts/{rollout_id}/pause")
def pause_rollout(rollout_id: RolloutId, who: OperatorUser, request: Request) -> dict[str, Any]:
    """No new gateway starts; ones updating go on and are still followed."""
    return _act(request, rollout_id, "pause", who)


@router.post("/rollouts/{rollout_id}/resume")
def resume_rollout(rollout_id: RolloutId, who: OperatorUser, request: Request) -> dict[str, Any]:
    return _act(request, rollout_id, "resume", who)


@router.post("/rollouts/{rollout_id}/abort")
def abort_rollout(rollout_id: RolloutId, who: OperatorUser, request: Request) -> dict[str, Any]:
    """Gateways not started are skipped; ones updating finish (commit or roll back) on their own."""
    return _act(request, rollout_id, "abort", who)


@router.api_route("/releases/{version}/{name}", methods=["GET", "HEAD"], tags=["releases"])
def release_file(version: Version, name: FileName, request: Request) -> Response:
    """A file of a signed release, for gateways (no login; see the module's note). Single byte
    ranges are honoured (206); an unsatisfiable or malformed one gets 416."""
    service = rollouts(request)
    if service.library is None:
        raise not_found(f"release {version}")
    try:
        artifact = service.library.artifact(version, name)
    except ReleaseUnavailable as exc:
        raise not_found(f"{version}/{name}") from exc
    return _serve(request, artifact.path, artifact.size, artifact.sha256)


@router.api_route("/firmware/{rollout_id}", methods=["GET", "HEAD"], tags=["releases"])
def firmware_image(rollout_id: RolloutId, request: Request) -> Response:
    """The camera firmware image a rollout pinned, for gateways (no login; see the module's
    note); 404 once the file no longer has the pinned SHA-256. Byte ranges as for releases."""
    service = rollouts(request)
    if service.images is None:
        raise not_found(f"firmware of rollout {rollout_id}")
    try:
        loaded = service.store.load(rollout_id)
    except RolloutNotFound as exc:
        raise not_found(f"rollout {rollout_id}") from exc
    image = loaded.image or {}
    if loaded.kind != CAMERA_FIRMWARE or not image.get("file"):
        raise not_found(f"firmware of rollout {rollout_id}")
    try:
        found = service.images.pinned(str(image["file"]), str(image.get("sha256")))
    except ImageRefused as exc:
        raise not_found(f"firmware of rollout {rollout_id}: {exc}") from exc
    return _serve(request, found.path, found.size, found.sha256)


def _serve(request: Request, path: FilePath, size: int, sha256: str | None) -> Response:
    headers = {"accept-ranges": "bytes", "cache-control": "no-cache"}
    if sha256 is not None:
        headers["etag"] = f'"{sha256}"'
    wanted: tuple[int, int] | None
    try:
        wanted = byte_range(request.headers.get("range"), size)
    except Unsatisfiable as exc:
        return Response(
            str(exc), 416, {**headers, "content-range": f"bytes */{size}"}, "text/plain"
        )
    if_range = request.headers.get("if-range")
    if wanted is not None and if_range is not None and if_range != headers.get("etag"):
        wanted = None  # the file the client has part of is not this one: send it whole
    first, last = wanted if wanted is not None else (0, size - 1)
    status = 206 if wanted is not None else 200
    if wanted is not None:
        headers["content-range"] = content_range(first, last, size)
    headers["content-length"] = str(last - first + 1 if size else 0)
    if request.method == "HEAD":
        return Response(None, status, headers, "application/octet-stream")
    body = _chunks(path, first, last)
    return StreamingResponse(body, status, headers, "application/octet-stream")


def _chunks(path: FilePath, first: int, last: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(first)
        left = last - first + 1
        while left > 0:
            data = f.read(min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data
