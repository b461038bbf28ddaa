"""OpenID Connect sign-in: authorization code flow with PKCE, state and nonce (Authlib).

Authlib does discovery, state, PKCE, nonce and the ID token's signature and claims; we
fix what it compares against: the issuer from settings (the discovery document must
name the same one), our client id as the only audience, and the application clock
(dlqadmin.core.clock) for exp / iat / nbf. Every refusal is a SignInError with a short
code (audited) and a message for the person at the keyboard.
"""

from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace

from django.conf import settings

from dlqadmin.core import clock

CALLBACK_PATH = "/login/oidc/callback/"
POST_LOGOUT_PATH = "/login/"
# Session keys: the ID token (id_token_hint of RP-initiated logout), where to go after
# sign-in, and whether the IdP vouched for a second factor.
ID_TOKEN = "dlq_oidc_id_token"
NEXT = "dlq_oidc_next"
IDP_MFA = "dlq_mfa_idp"
# Tolerated clock difference between us and the IdP for exp / iat / nbf.
LEEWAY_SECONDS = 60
_MAX_GROUPS = 500


class SignInError(Exception):
    def __init__(self, code, message, detail=""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail  # the IdP's own words: audited, never shown


@dataclass(frozen=True)
class SignIn:
    issuer: str
    subject: str
    claims: dict
    groups: list
    id_token: str
    idp_second_factor: bool


def enabled():
    return bool(settings.DLQADMIN_OIDC_ISSUER and settings.DLQADMIN_OIDC_CLIENT_ID)


def redirect_uri():
    """What to register at the IdP as the redirect (callback) URI."""
    return settings.DLQADMIN_BASE_URL + CALLBACK_PATH


@cache
def _lib():
    """Authlib, requests and joserfc, imported at the first sign-in: ~10 MB that a web
    worker which never sees one does not carry (bench/README.md, worker RSS)."""
    import requests
    from authlib.integrations.base_client import MismatchingStateError, OAuthError
    from authlib.integrations.django_client import OAuth
    from authlib.oidc.core import CodeIDToken
    from joserfc import errors as jose_errors

    class ClockedIDToken(CodeIDToken):
        """exp / iat / nbf checked against the application clock, not time.time()."""

        def validate(self, now=None, leeway=0):
            super().validate(now=int(clock.timestamp()), leeway=leeway)

    return SimpleNamespace(
        requests=requests, MismatchingStateError=MismatchingStateError, OAuthError=OAuthError, OAuth=OAuth,
        ClockedIDToken=ClockedIDToken, jose_errors=jose_errors,
        jose_codes=(
            (jose_errors.ExpiredTokenError, "expired",
             "Your sign-in at the identity provider has expired; sign in again."),
            (jose_errors.BadSignatureError, "signature", "The identity provider's answer had an invalid signature."),
            (jose_errors.InvalidKeyIdError, "signature",
             "The identity provider's answer was signed with an unknown key."),
        ))


def _scopes():
    scopes = settings.DLQADMIN_OIDC_SCOPES.split()
    return " ".join(scopes if "openid" in scopes else ["openid", *scopes])


def _client():
    # A fresh client per sign-in: settings are read each time, and discovery and keys
    # are fetched anew (a sign-in is rare; a rotated key is picked up at once).
    issuer = settings.DLQADMIN_OIDC_ISSUER
    return _lib().OAuth().register(
        "dlqadmin",
        client_id=settings.DLQADMIN_OIDC_CLIENT_ID,
        client_secret=settings.DLQADMIN_OIDC_CLIENT_SECRET,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": _scopes(), "code_challenge_method": "S256",
                       "default_timeout": settings.DLQADMIN_OIDC_TIMEOUT_SECONDS},
    )


def _metadata(client):
    try:
        metadata = client.load_server_metadata()
    except (_lib().requests.RequestException, ValueError) as exc:
        raise SignInError("discovery", "The identity provider could not be reached; try again later.") from exc
    if str(metadata.get("issuer", "")).rstrip("/") != settings.DLQADMIN_OIDC_ISSUER:
        # The discovery document speaks for another issuer: not the IdP we trust.
        raise SignInError("issuer", "The identity provider answered for an unknown issuer.")
    # Authlib accepts the algorithms the IdP lists; never more than ours (and never "none").
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    metadata["id_token_signing_alg_values_supported"] = [
        a for a in offered if a in settings.DLQADMIN_OIDC_ALGORITHMS] or ["RS256"]
    return metadata


def start(request, next_url):
    """The redirect to the IdP's authorization endpoint (state, nonce, PKCE kept in the session)."""
    client = _client()
    _metadata(client)
    response = client.authorize_redirect(request, redirect_uri())
    request.session[NEXT] = next_url
    return response


def _claim_error(exc):
    claim = getattr(exc, "claim", "")
    if claim == "aud" or claim == "azp":
        return SignInError("audience", "The identity provider's answer was meant for another application.")
    if claim == "iss":
        return SignInError("issuer", "The identity provider's answer came from an unknown issuer.")
    if claim == "nonce":
        return SignInError("nonce", "The identity provider's answer does not belong to this sign-in.")
    return SignInError("id_token", f"The identity provider's ID token was refused ({claim or 'claims'}).")


def finish(request):
    """Check the IdP's answer at the callback; a SignIn, or SignInError."""
    state = request.GET.get("state", "")
    if not state or len(state) > 500 or f"_state_dlqadmin_{state}" not in request.session:
        # Not an answer to a sign-in this browser started: refused before any work or network call.
        raise SignInError("state", "This sign-in link is not valid (expired, used already, or from another "
                                   "browser); start again.")
    if request.GET.get("error"):
        raise SignInError("idp_error", "The identity provider refused the sign-in.",
                          detail=(request.GET.get("error_description") or request.GET["error"])[:200])
    client = _client()
    metadata = _metadata(client)
    issuer, client_id = metadata["issuer"], settings.DLQADMIN_OIDC_CLIENT_ID
    if "iss" in request.GET and request.GET["iss"] != issuer:
        # RFC 9207: the answer names another issuer (a mix-up attack).
        raise SignInError("issuer", "The answer came from an unknown issuer.")
    options = {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "values": [client_id]},
               "sub": {"essential": True}}
    lib = _lib()
    jose_errors = lib.jose_errors
    try:
        token = client.authorize_access_token(request, claims_cls=lib.ClockedIDToken, claims_options=options,
                                              leeway=LEEWAY_SECONDS)
    except lib.MismatchingStateError as exc:
        raise SignInError("state", "This sign-in link is not valid (expired, used already, or from another "
                                   "browser); start again.") from exc
    except lib.OAuthError as exc:
        raise SignInError("token", f"The identity provider refused to complete the sign-in ({exc.error}).") from exc
    except lib.requests.RequestException as exc:
        raise SignInError("unreachable", "The identity provider could not be reached; try again later.") from exc
    except jose_errors.InvalidClaimError as exc:
        raise _claim_error(exc) from exc
    except jose_errors.MissingClaimError as exc:
        raise SignInError("id_token", f"The identity provider's ID token lacks {exc.claim}.") from exc
    except jose_errors.JoseError as exc:
        for kind, code, message in lib.jose_codes:
            if isinstance(exc, kind):
                raise SignInError(code, message) from exc
        raise SignInError("id_token", "The identity provider's ID token was refused.") from exc
    except ValueError as exc:  # a token that is not a JWT at all
        raise SignInError("id_token", "The identity provider's ID token was unreadable.") from exc
    claims = dict(token.get("userinfo") or {})
    if not claims or not token.get("id_token"):
        raise SignInError("id_token", "The identity provider sent no ID token.")
    if not isinstance(claims.get("sub"), str) or len(claims["sub"]) > 255 or "\x00" in claims["sub"]:
        raise SignInError("id_token", "The identity provider's ID token has a subject we cannot store.")
    if settings.DLQADMIN_OIDC_ALLOWED_DOMAINS and not allowed_domain(claims):
        raise SignInError("domain", "Your account at the identity provider is not one of this company's.")
    return SignIn(issuer=issuer, subject=str(claims["sub"]), claims=claims,
                  groups=_groups(client, metadata, token, claims), id_token=token["id_token"],
                  idp_second_factor=idp_second_factor(claims))


def _groups(client, metadata, token, claims):
    name = settings.DLQADMIN_OIDC_GROUPS_CLAIM
    groups = claims.get(name)
    if groups is None and metadata.get("userinfo_endpoint") and token.get("access_token"):
        # Some IdPs put groups only in the userinfo answer; it must be the same subject.
        try:
            info = client.userinfo(token=token)
        except (_lib().requests.RequestException, _lib().OAuthError, ValueError) as exc:
            raise SignInError("userinfo", "The identity provider did not tell us your groups.") from exc
        if str(info.get("sub")) == str(claims["sub"]):
            groups = info.get(name)
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return []
    return sorted({g[:256] for g in groups if isinstance(g, str) and g and "\x00" not in g})[:_MAX_GROUPS]


def allowed_domain(claims):
    """An IdP shared with the world (Google, Entra multi-tenant) lets anyone sign in: only
    accounts of DLQADMIN_OIDC_ALLOWED_DOMAINS pass, by the hosted domain (`hd`) or a
    verified e-mail address."""
    allowed = {d.lower() for d in settings.DLQADMIN_OIDC_ALLOWED_DOMAINS}
    hd = claims.get("hd")
    if isinstance(hd, str) and hd.lower() in allowed:
        return True
    email = claims.get("email")
    return (isinstance(email, str) and claims.get("email_verified") is True
            and email.rpartition("@")[2].lower() in allowed)


def idp_second_factor(claims):
    """True when the ID token says a second factor was used (DLQADMIN_OIDC_MFA_AMR / _ACR)."""
    amr = claims.get("amr")
    amr = set(amr) if isinstance(amr, list) and all(isinstance(v, str) for v in amr) else set()
    if amr & set(settings.DLQADMIN_OIDC_MFA_AMR):
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in settings.DLQADMIN_OIDC_MFA_ACR


def logout_url(id_token):
    """The IdP's end-session URL (RP-initiated logout), or None when it has none or is unreachable."""
    client = _client()
    try:
        metadata = _metadata(client)
    except SignInError:
        return None
    if not metadata.get("end_session_endpoint"):
        return None
    return client.create_logout_url(post_logout_redirect_uri=settings.DLQADMIN_BASE_URL + POST_LOGOUT_PATH,
                                    id_token_hint=id_token, client_id=settings.DLQADMIN_OIDC_CLIENT_ID)["url"]
