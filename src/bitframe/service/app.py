"""The web layer: a JSON API and a server-rendered enrolment page (FastAPI, no JavaScript).

Authentication: API calls send ``Authorization: Bearer <token>``; the page signs in with
the same token once and then carries a signed, HTTP-only, ``SameSite=Strict`` session
cookie (8 hours). The cookie names the user's *session generation*, which signing out,
rotating the token or revoking the user advances in the database, so an old cookie stops
working at once (server-side sign-out, OWASP Session Management Cheat Sheet).

Cross-site request forgery (OWASP CSRF Prevention Cheat Sheet), two independent defences:
every form carries a token -- derived from the session once signed in, and for the sign-in
form itself from a random pre-session cookie (signed double submit), so another site cannot
sign a victim in under its own token ("login CSRF") -- and every state-changing request
whose ``Origin`` (or, failing that, ``Referer``) names another host is refused with 403.

Failed authentications (a wrong token on ``/login`` or as a bearer token) are counted per
client address by :class:`~bitframe.service.ratelimit.LoginThrottle`: after 10 the client
gets 429 with ``Retry-After`` (one more attempt every 5 s), and the lock-out is audited.

Request bodies are limited to :data:`MAX_BODY` bytes while they are received, before any
authentication: a larger ``Content-Length`` is refused at once, and a chunked body is cut
off with 413 as soon as it passes the limit; forms accept no file parts.

Endpoints and the roles allowed (everything else gets 401 without a valid token and 403
with a token of another role; ``tests/service/test_security.py`` checks every cell):

=======================================  =====================  ==============================
endpoint                                 roles                  purpose
=======================================  =====================  ==============================
``GET  /api/health``                     (none needed)          liveness; reveals nothing
``GET  /api/me``                         any                    who am I
``POST /api/enrol``                      enroller               allocate one participant
``GET  /api/status``                     statistician, admin    counts, slots left, alerts
``GET  /api/recruitment``                statistician, auditor, by site/stratum/week (arms:
                                         admin                  statistician and admin only)
``GET  /api/allocations``                statistician           all allocations (json/csv)
``GET  /api/list``                       statistician           sealed list (json/csv)
``GET  /api/list/manifest``              statistician           the list's manifest
``GET  /api/audit``                      auditor                audit events
``GET  /api/audit/verify``               auditor                verify the hash chain
``GET  /api/users``                      admin                  list users
``POST /api/users``                      admin                  add a user (token shown once)
``POST /api/users/{name}/revoke``        admin                  revoke a user
``POST /api/users/{name}/rotate``        admin                  new token for a user
``POST /api/unblind``                    admin                  emergency unblinding + reason
``GET  /`` ``POST /login`` ``/logout``   (sign-in pages)        the page's session
``GET  /enrol`` ``POST /enrol``          enroller               the enrolment page
``GET  /account``                        any                    signed-in page for other roles
``GET  /recruitment``                    statistician, auditor, the recruitment page
                                         admin
``GET  /unblind`` ``POST /unblind``      admin                  emergency unblinding + reason
``GET  /unblindings``                    auditor, admin         every unblinding so far
``GET  /docs`` ``/openapi.json``         admin, statistician    the API documentation (session
                                                                or bearer token)
=======================================  =====================  ==============================

An enroller's responses hold the allocation just made and nothing else: no sequence
number, slot position, block, stratum count or list length (allocation concealment,
Schulz & Grimes 2002, *Lancet* 359:614). Bad input always gets a 4xx with a message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from bitframe.service.audit import to_the_second
from bitframe.service.auth import User
from bitframe.service.core import Service
from bitframe.service.errors import Forbidden, InvalidInput, NotAuthenticated, ServiceError, TooManyAttempts
from bitframe.service.ratelimit import LoginThrottle
from bitframe.spreadsheet import neutralise_frame

log = logging.getLogger("bitframe.service")

SESSION_COOKIE = "bitframe_session"
LOGIN_COOKIE = "bitframe_login"
SESSION_SECONDS = 8 * 3600
MAX_BODY = 64 * 1024
MAX_FORM_FIELDS = 50
#: Largest audit sequence number a client may page from (the column is a 32-bit integer on PostgreSQL).
MAX_SEQ = 2**31 - 1
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ANY_ROLE = ("enroller", "statistician", "auditor", "admin")

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: under no-referrer browsers send "Origin: null" even on our own
    # forms, and the cross-origin check needs the real origin; other sites still get nothing.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
}


# --------------------------------------------------------------------------- request bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrolBody(_Body):
    participant_id: str = Field(min_length=1, max_length=200, description="The participant's id (unique in the trial).")
    values: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="Stratum, minimisation-factor and other participant columns."
    )
    eligible: StrictBool = Field(description="Confirms the participant meets the eligibility criteria.")


class UserBody(_Body):
    name: str = Field(min_length=1, max_length=64)
    role: Literal["enroller", "statistician", "auditor", "admin"]
    site: str | None = Field(None, max_length=200)


class UnblindBody(_Body):
    participant_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=1000)


# --------------------------------------------------------------------------- sessions


def _sign(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def make_session(secret: bytes, user_id: int, token_hash: str, now: float | None = None, generation: int = 0) -> str:
    """A session cookie for the user holding ``token_hash`` in session generation ``generation``."""
    expires = int((time.time() if now is None else now) + SESSION_SECONDS)
    payload = f"{user_id}.{expires}.{token_hash[:16]}.{generation}"
    return f"{payload}.{_sign(secret, 'session|' + payload)}"


def csrf_token(secret: bytes, session: str) -> str:
    return _sign(secret, "csrf|" + session.rsplit(".", 1)[0])[:32]


def login_csrf_token(secret: bytes, nonce: str) -> str:
    """The sign-in form's token: bound to the browser's random pre-session cookie."""
    return _sign(secret, "login|" + nonce)[:32]


def _session_user(service: Service, cookie: str | None) -> User | None:
    if not cookie or len(cookie) > 300 or cookie.count(".") != 4:
        return None
    payload, sig = cookie.rsplit(".", 1)
    if not hmac.compare_digest(sig, _sign(service.session_secret, "session|" + payload)):
        return None
    uid_text, exp_text, th, generation = payload.split(".")
    if not (uid_text.isdigit() and exp_text.isdigit() and generation.isdigit()) or int(exp_text) < time.time():
        return None
    state = service.session_state(int(uid_text))
    if state is None:
        return None
    user, current_hash, current_generation = state
    if not hmac.compare_digest(current_hash[:16], th) or int(generation) != current_generation:
        return None
    return user


def _cross_origin(headers: Mapping[str, str]) -> bool:
    """True when the request says it comes from a page on another host (``Origin``, else ``Referer``).
    Browsers send ``Origin`` on every cross-site POST (``null`` from sandboxed or no-referrer
    pages, which is refused too); a request naming neither comes from no page at all."""
    source = headers.get("origin") or headers.get("referer")
    if source is None:
        return False
    return urlsplit(source).netloc.lower() != headers.get("host", "").lower()


# --------------------------------------------------------------------------- the body limit


class BodyTooLarge(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(413, f"request bodies are limited to {MAX_BODY} bytes")


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyLimit:
    """ASGI middleware counting the bytes of a request body as they arrive: over
    :data:`MAX_BODY` the request ends with 413 without reading further (see the module docs).
    It sits outside everything else, so no handler or authentication check sees the rest."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(413, "too_large", f"request bodies are limited to {MAX_BODY} bytes",
                          headers={**SECURITY_HEADERS, "Connection": "close"})
        await response(scope, receive, send)


class Guard:
    """ASGI middleware around everything: refuses cross-origin state changes (403), turns any
    exception into a JSON 503 (database) or 500 (anything else) without a traceback, and puts
    :data:`SECURITY_HEADERS` on every response. Plain ASGI rather than Starlette's
    ``BaseHTTPMiddleware``, which runs each request in an extra task with in-memory streams:
    on the enrolment path that was an eighth of the server's CPU time per request."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import Headers, MutableHeaders

        started = False

        async def secure_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
            await send(message)

        if scope["method"] not in SAFE_METHODS and _cross_origin(Headers(scope=scope)):
            refusal = _error(403, "cross_origin", "this request came from a page on another site; it was refused")
            await refusal(scope, receive, secure_send)
            return
        try:
            await self.app(scope, receive, secure_send)
        except Exception as exc:  # never a traceback to the client
            from sqlalchemy.exc import DBAPIError

            if started:
                raise
            if isinstance(exc, DBAPIError):
                # Fail closed: the database is unreachable or refused the change; nothing was allocated.
                log.error("database error on %s %s: %s", scope["method"], scope["path"], exc)
                response = _error(503, "database_unavailable",
                                  "the database is unavailable; nothing was changed. Try again shortly.")
            else:
                log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                response = _error(500, "internal", "internal error; it has been logged")
            await response(scope, receive, secure_send)


# --------------------------------------------------------------------------- the app


def _client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def create_app(service: Service, throttle: LoginThrottle | None = None) -> FastAPI:
    """The ASGI application serving ``service`` (see the module docs); failed sign-ins are
    counted by ``throttle`` (default: 10 at once, then one every 5 s per client address)."""
    from bitframe.resources import jinja_environment

    app = FastAPI(
        title=f"bitframe allocation service: {service.plan.trial_id}",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    throttle = LoginThrottle() if throttle is None else throttle
    app.state.throttle = throttle
    app.add_middleware(BodyLimit)
    app.add_middleware(Guard)
    env = jinja_environment()
    env.filters["seconds"] = to_the_second

    # ------------------------------------------------------------------ middleware and errors

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, TooManyAttempts):
            headers = {"Retry-After": str(exc.retry_after)}
        return _error(exc.status, exc.code, exc.message, exc.details, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                reason = (err.get("ctx") or {}).get("error", "")
                details.append(f"the request body is not valid JSON ({reason})" if reason else
                               "the request body is not valid JSON")
                continue
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            details.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
        return _error(422, "invalid_input", "; ".join(details) or "invalid request", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc, BodyTooLarge):
            return _error(413, "too_large", str(exc.detail), headers={"Connection": "close"})
        messages = {404: "no such endpoint", 405: "method not allowed on this endpoint"}
        return _error(exc.status_code, "http_" + str(exc.status_code),
                      messages.get(exc.status_code, str(exc.detail)), headers=getattr(exc, "headers", None))

    # ------------------------------------------------------------------ auth dependencies

    def attempt_sign_in(request: Request, token: str) -> User | None:
        """The user holding ``token``; refused with 429 while the client is locked out, and a
        failure counted (see :mod:`bitframe.service.ratelimit`)."""
        client = _client_address(request)
        wait = throttle.retry_after(client)
        if wait is not None:
            raise TooManyAttempts(wait)
        user = service.authenticate(token)
        if user is None and throttle.failed(client):
            log.warning("client %s used up its failed sign-in attempts; refusing it for a while", client)
            service.record_throttled(client, int(throttle.burst), throttle.retry_after(client) or 0.0)
        return user

    def bearer_token(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise NotAuthenticated("an API token is required: send 'Authorization: Bearer <token>'",
                                   code="token_required")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("use 'Authorization: Bearer <token>'", code="bad_authorization")
        return token.strip()

    async def bearer_user(request: Request) -> User:
        user = await run_in_threadpool(attempt_sign_in, request, bearer_token(request))
        if user is None:
            raise NotAuthenticated("the token is not valid (unknown, rotated or revoked)", code="bad_token")
        return user

    first_lookups: dict[str, asyncio.Future[User]] = {}

    async def enroller(request: Request) -> tuple[User, str]:
        """The enrolment path's authentication: a token seen before is not read from the database
        again here, because the enrolment's own transaction checks it (``token_hash``; see
        :meth:`Service.enrol_async`), which is as current as a check can be."""
        token = bearer_token(request)
        wait = throttle.retry_after(_client_address(request))
        if wait is not None:
            raise TooManyAttempts(wait)
        known = service.remembered_user(token)
        if known is None:
            # One lookup per new token however many of its requests arrive at once (a site's
            # clients all starting together), instead of one database read and thread each.
            lookup = first_lookups.get(token)
            if lookup is None:
                lookup = first_lookups[token] = asyncio.ensure_future(bearer_user(request))
                lookup.add_done_callback(lambda _: first_lookups.pop(token, None))
            user = await asyncio.shield(lookup)
            known = user, service.remember(token, user)
        if known[0].role != "enroller":
            raise Forbidden(f"this endpoint needs the role enroller; you are {known[0].role}", code="wrong_role")
        return known

    enroller.roles = ("enroller",)  # type: ignore[attr-defined]  # read by api_schema for the documentation

    def role(*roles: str) -> Callable[..., Awaitable[User]]:
        async def dependency(user: User = Depends(bearer_user)) -> User:
            if user.role not in roles:
                raise Forbidden(f"this endpoint needs the role {' or '.join(roles)}; you are {user.role}",
                                code="wrong_role")
            return user

        dependency.roles = roles  # type: ignore[attr-defined]  # read by api_schema for the documentation
        return dependency

    # ------------------------------------------------------------------ API

    @app.get("/api/health")
    def health() -> dict[str, str]:
        """Liveness: answers while the server runs; reveals nothing."""
        return {"status": "ok"}

    @app.get("/api/me")
    def me(user: User = Depends(role(*ANY_ROLE))) -> dict[str, Any]:
        """The caller's name, role and site."""
        return {**user.public(), "trial_id": service.plan.trial_id}

    @app.post("/api/enrol")
    async def enrol(body: EnrolBody, caller: tuple[User, str] = Depends(enroller)) -> Response:
        """Allocate one participant at the enroller's site (idempotent: the same id and values return the first allocation)."""
        # Awaited, not run in a thread: the request waits for its batch's commit without holding one.
        user, token_hash = caller
        enrolment = await service.enrol_async(user, body.participant_id, body.values, eligible=body.eligible,
                                              token_hash=token_hash)
        return JSONResponse(enrolment.public())

    @app.get("/api/status")
    def status(user: User = Depends(role("statistician", "admin"))) -> dict[str, Any]:
        """Counts per arm, slots used and left per stratum, and alerts."""
        return service.status(user)

    @app.get("/api/allocations")
    def allocations(format: Literal["json", "csv"] = "json",
                    user: User = Depends(role("statistician"))) -> Response:
        """Every allocation in enrolment order (logged as an export, and the audit chain anchored)."""
        frame = service.allocations_frame()
        service.record_export(user, "allocations", len(frame))
        return _frame_response(frame, format, "allocations")

    @app.get("/api/list")
    def sealed_list(format: Literal["json", "csv"] = "json",
                    user: User = Depends(role("statistician"))) -> Response:
        """The sealed list, slot by slot, with who took each slot (logged as an export)."""
        if service.plan.mode == "minimisation":
            if format == "csv":
                raise InvalidInput("this trial uses live minimisation: there is no list to download as CSV",
                                   code="no_sealed_list")
            service.record_export(user, "minimisation_settings", 0)
            return JSONResponse({"mode": "minimisation", "settings": service.minimisation_settings()})
        frame = service.sealed_list_frame()
        service.record_export(user, "sealed_list", len(frame))
        return _frame_response(frame, format, "sealed-list")

    @app.get("/api/list/manifest")
    def manifest(user: User = Depends(role("statistician"))) -> dict[str, Any]:
        """The sealed list's manifest (its SHA-256, seed source, settings)."""
        return service.list_manifest()

    @app.get("/api/audit")
    def audit(after: int = 0, limit: int = 1000, user: User = Depends(role("auditor"))) -> dict[str, Any]:
        """Audit events after sequence number `after`, at most `limit` of them."""
        if not 0 <= after <= MAX_SEQ or not 1 <= limit <= 10000:
            raise InvalidInput(f"after must be in [0, {MAX_SEQ}] and limit in [1, 10000]; "
                               f"got after={after}, limit={limit}", code="bad_range")
        frame = service.audit_frame(after_seq=after, limit=limit)
        return {"events": json.loads(frame.to_json(orient="records"))}

    @app.get("/api/audit/verify")
    def audit_verify(anchor: str | None = None, user: User = Depends(role("auditor"))) -> dict[str, Any]:
        """Verify the hash chain, allocations against slots, slots against the list and users against their events."""
        from bitframe.service.audit import parse_anchor

        try:
            parsed = parse_anchor(anchor) if anchor else None
        except ValueError as exc:
            raise InvalidInput(str(exc), code="bad_anchor") from None
        return service.verify_audit(anchor=parsed).to_dict()

    @app.get("/api/users")
    def users(user: User = Depends(role("admin"))) -> dict[str, Any]:
        """The users, their roles, sites and token hints."""
        return {"users": service.list_users()}

    @app.post("/api/users", status_code=201)
    def add_user(body: UserBody, user: User = Depends(role("admin"))) -> dict[str, Any]:
        """Add a user; its token is in the answer, shown once."""
        created, token = service.add_user(user, body.name, body.role, site=body.site)
        return {**created.public(), "token": token, "note": "the token is shown once; store it safely"}

    @app.post("/api/users/{name}/revoke")
    def revoke(name: str, user: User = Depends(role("admin"))) -> dict[str, Any]:
        """Revoke a user: its token and page sessions stop working at once."""
        service.revoke_user(user, name)
        return {"name": name, "active": False}

    @app.post("/api/users/{name}/rotate")
    def rotate(name: str, user: User = Depends(role("admin"))) -> dict[str, Any]:
        """A new token for a user (shown once); the old one and its sessions stop working."""
        return {"name": name, "token": service.rotate_token(user, name),
                "note": "the token is shown once; the old one no longer works"}

    @app.get("/api/recruitment")
    def recruitment(user: User = Depends(role("statistician", "auditor", "admin"))) -> dict[str, Any]:
        """Recruitment by site and stratum, in total and per week; arm counts for statistician and admin only."""
        return service.recruitment(user)

    @app.post("/api/unblind")
    def unblind(body: UnblindBody, user: User = Depends(role("admin"))) -> dict[str, Any]:
        """Emergency unblinding of one participant; the reason is required and logged."""
        e = service.unblind(user, body.participant_id, body.reason)
        return {"participant_id": e.participant_id, "reference": e.ref, "arm": e.arm, "arm_name": e.arm_name,
                "site": e.site, "enrolled_at": e.enrolled_at}

    # ------------------------------------------------------------------ pages

    def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("trial", service.plan)
        context.setdefault("user", None)
        context.setdefault("error", None)
        context.setdefault("csrf", "")
        return HTMLResponse(env.get_template(f"service/{name}.html.j2").render(**context), status_code=status_code)

    def page_user(request: Request) -> User | None:
        return _session_user(service, request.cookies.get(SESSION_COOKIE))

    def form_fields() -> list[dict[str, Any]]:
        return [
            {"name": c.name, "values": c.values, "description": c.description}
            for c in service.plan.required_columns if c.name != service.plan.site_column
        ]

    def login_page(request: Request, status_code: int = 200, error: str | None = None) -> HTMLResponse:
        """The sign-in form with its CSRF token, setting the pre-session cookie it is bound to."""
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        fresh = len(nonce) != 32 or not nonce.isalnum()
        if fresh:
            nonce = secrets.token_hex(16)
        response = render("login", status_code, error=error, csrf=login_csrf_token(service.session_secret, nonce))
        if fresh:
            response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https", path="/")
        return response

    async def read_form(request: Request) -> Any:
        # No file parts: nothing here takes uploads, so nothing is spooled to disk.
        return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> Response:
        user = page_user(request)
        if user is not None:
            return RedirectResponse("/enrol" if user.role == "enroller" else "/account", status_code=303)
        return login_page(request)

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await read_form(request)
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not hmac.compare_digest(str(form.get("csrf", "")),
                                                login_csrf_token(service.session_secret, nonce)):
            return login_page(request, 403, error="The sign-in form expired; sign in again from this page.")
        token = form.get("token")
        try:
            user = await run_in_threadpool(attempt_sign_in, request, token.strip()) if isinstance(token, str) else None
        except TooManyAttempts as exc:
            refusal = login_page(request, 429, error=exc.message)
            refusal.headers["Retry-After"] = str(exc.retry_after)
            return refusal
        state = service.session_state(user.id) if user is not None and user.id is not None else None
        if user is None or user.id is None or state is None:
            return login_page(request, 401, error="That token is not valid (unknown, rotated or revoked).")
        _, token_hash, generation = state
        session = make_session(service.session_secret, user.id, token_hash, generation=generation)
        response = RedirectResponse("/enrol" if user.role == "enroller" else "/account", status_code=303)
        response.set_cookie(SESSION_COOKIE, session, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        user = page_user(request)
        form = await read_form(request)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if user is not None:
            if not hmac.compare_digest(str(form.get("csrf", "")), csrf_token(service.session_secret, cookie)):
                return render("account", 403, user=user, error="The form expired; sign out again from this page.",
                              csrf=csrf_token(service.session_secret, cookie))
            if user.id is not None:
                await run_in_threadpool(service.end_sessions, user.id)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/account", response_class=HTMLResponse, include_in_schema=False)
    def account(request: Request) -> Response:
        user = page_user(request)
        if user is None:
            return RedirectResponse("/", status_code=303)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return render("account", user=user, csrf=csrf_token(service.session_secret, cookie))

    @app.get("/enrol", response_class=HTMLResponse, include_in_schema=False)
    def enrol_page(request: Request) -> Response:
        user = page_user(request)
        if user is None:
            return RedirectResponse("/", status_code=303)
        if user.role != "enroller":
            return render("account", 403, user=user, error="Only enrollers can enrol participants.",
                          csrf=csrf_token(service.session_secret, request.cookies.get(SESSION_COOKIE, "")))
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return render("enrol", user=user, fields=form_fields(), form={},
                      csrf=csrf_token(service.session_secret, cookie))

    @app.post("/enrol", response_class=HTMLResponse, include_in_schema=False)
    async def enrol_submit(request: Request) -> Response:
        # The body first, so that an oversized one gets 413 whoever sends it (see the module docs).
        form = await read_form(request)
        user = page_user(request)
        if user is None:
            return login_page(request, 401, error="Your session has ended; sign in again.")
        cookie = request.cookies.get(SESSION_COOKIE, "")
        csrf = csrf_token(service.session_secret, cookie)
        if user.role != "enroller":
            return render("account", 403, user=user, error="Only enrollers can enrol participants.", csrf=csrf)
        if not hmac.compare_digest(str(form.get("csrf", "")), csrf):
            return login_page(request, 403, error="The form expired; sign in again.")
        fields = form_fields()
        submitted = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        values = {f["name"]: submitted.get(f["name"], "") for f in fields}
        try:
            result = await run_in_threadpool(
                service.enrol, user, submitted.get("participant_id", ""), values,
                eligible=submitted.get("eligible") == "yes",
            )
        except ServiceError as exc:
            return render("enrol", exc.status, user=user, fields=fields, form=submitted, error=exc.message, csrf=csrf)
        return render("result", user=user, result=result.public(), csrf=csrf)

    # ------------------------------------------------------------------ trial-manager pages

    def signed_in(request: Request, *roles: str) -> User | Response:
        """The page's user if signed in with one of ``roles``; else where to send them instead."""
        user = page_user(request)
        if user is None:
            return RedirectResponse("/", status_code=303)
        if user.role not in roles:
            return render("account", 403, user=user, error=f"This page is for the role {' or '.join(roles)}; "
                          f"you are {user.role}.", csrf=session_csrf(request))
        return user

    def session_csrf(request: Request) -> str:
        return csrf_token(service.session_secret, request.cookies.get(SESSION_COOKIE, ""))

    @app.get("/recruitment", response_class=HTMLResponse, include_in_schema=False)
    def recruitment_page(request: Request) -> Response:
        user = signed_in(request, "statistician", "auditor", "admin")
        if not isinstance(user, User):
            return user
        return render("recruitment", user=user, report=service.recruitment(user), csrf=session_csrf(request))

    @app.get("/unblind", response_class=HTMLResponse, include_in_schema=False)
    def unblind_page(request: Request) -> Response:
        user = signed_in(request, "admin")
        if not isinstance(user, User):
            return user
        return render("unblind", user=user, form={}, csrf=session_csrf(request))

    @app.post("/unblind", response_class=HTMLResponse, include_in_schema=False)
    async def unblind_submit(request: Request) -> Response:
        form = await read_form(request)
        user = signed_in(request, "admin")
        if not isinstance(user, User):
            return user
        csrf = session_csrf(request)
        if not hmac.compare_digest(str(form.get("csrf", "")), csrf):
            return render("unblind", 403, user=user, form={}, csrf=csrf,
                          error="The form expired; open the unblinding page again.")
        submitted = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        try:
            result = await run_in_threadpool(service.unblind, user, submitted.get("participant_id", ""),
                                             submitted.get("reason", ""))
        except ServiceError as exc:
            return render("unblind", exc.status, user=user, form=submitted, error=exc.message, csrf=csrf)
        return render("unblinded", user=user, result=result, reason=submitted.get("reason", "").strip(), csrf=csrf)

    @app.get("/unblindings", response_class=HTMLResponse, include_in_schema=False)
    def unblindings_page(request: Request) -> Response:
        user = signed_in(request, "auditor", "admin")
        if not isinstance(user, User):
            return user
        return render("unblindings", user=user, events=service.unblindings(user), csrf=session_csrf(request))

    # ------------------------------------------------------------------ API documentation

    async def documentation_reader(request: Request) -> User | Response:
        """Admins and statisticians, by page session or bearer token; nobody else sees the schema."""
        if request.headers.get("authorization"):
            user = await bearer_user(request)
            if user.role not in DOC_ROLES:
                raise Forbidden(f"the API documentation is for the role {' or '.join(DOC_ROLES)}; you are "
                                f"{user.role}", code="wrong_role")
            return user
        return await run_in_threadpool(signed_in, request, *DOC_ROLES)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_schema(request: Request) -> Response:
        reader = await documentation_reader(request)
        if not isinstance(reader, User):
            if isinstance(reader, RedirectResponse):
                raise NotAuthenticated("sign in, or send 'Authorization: Bearer <token>', to read the API schema",
                                       code="token_required")
            raise Forbidden(f"the API documentation is for the role {' or '.join(DOC_ROLES)}", code="wrong_role")
        return JSONResponse(api_schema(app))

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs_page(request: Request) -> Response:
        reader = await documentation_reader(request)
        if not isinstance(reader, User):
            return reader
        return render("docs", user=reader, schema=api_schema(app), csrf=session_csrf(request))

    return app


DOC_ROLES = ("admin", "statistician")


def api_schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of the JSON API, each operation with the roles it needs (``x-roles``)."""
    from fastapi.routing import APIRoute

    schema = app.openapi()
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        roles: list[str] = []
        for dependency in route.dependant.dependencies:
            roles += list(getattr(dependency.call, "roles", ()))
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            operation["x-roles"] = roles
            if roles:
                operation["security"] = [{"bearer": []}]
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "the user's API token (bf_...)"}}
    return schema


def _error(status: int, code: str, message: str, details: list[Any] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _frame_response(frame: Any, fmt: str, name: str) -> Response:
    if fmt == "csv":
        buf = io.StringIO()
        neutralise_frame(frame).to_csv(buf, index=False, lineterminator="\n")
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return Response(frame.to_json(orient="records"), media_type="application/json")
