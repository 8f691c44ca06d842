"""Who may do what at the gateway: JWT verification (`jwt`), cached JWKS
keys (`jwks`) and the scope/policy matcher (`policy`)."""

from promethean.auth.errors import AuthError, AuthFailure
from promethean.auth.jwt import Identity, JwtConfig, JwtVerifier
from promethean.auth.policy import Action, Effect, Policy, Rule, compile_policy, topic_matches

__all__ = [
    "Action",
    "AuthError",
    "AuthFailure",
    "Effect",
    "Identity",
    "JwtConfig",
    "JwtVerifier",
    "Policy",
    "Rule",
    "compile_policy",
    "topic_matches",
]
