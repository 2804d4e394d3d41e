"""The profile's RFC 8414 metadata: LiveChat's docs describe none, so this document is a
convenience of the mock — it says so — that lets the course's client code find the profile's
endpoints."""
from __future__ import annotations

from ..scopes import OPENID_CONNECT

# The standard server's endpoints and features LiveChat does not offer.
ABSENT = ("registration_endpoint", "device_authorization_endpoint", "revocation_endpoint",
          "introspection_endpoint", "userinfo_endpoint", "jwks_uri",
          "revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported",
          "authorization_response_iss_parameter_supported", "subject_types_supported",
          "id_token_signing_alg_values_supported", "claims_supported",
          # LiveChat documents neither pushed authorization requests nor DPoP (RULES.md), nor
          # Client ID Metadata Documents or protected resource metadata.
          "pushed_authorization_request_endpoint", "require_pushed_authorization_requests",
          "dpop_signing_alg_values_supported", "client_id_metadata_document_supported", "protected_resources")
DESCRIPTION = (
    "LiveChat's OAuth as its public docs describe it (https://platform.text.com/docs/authorization/"
    "oauth-authorization). LiveChat's docs describe no RFC 8414 metadata document: this one is a "
    "convenience of the mock, naming the profile's endpoints. LiveChat's own, outside RFC 8414: "
    "revoke with DELETE {issuer}/v2/token, validate a token with GET {issuer}/v2/info.")


def livechat_metadata(standard: dict) -> dict:
    issuer = standard["issuer"]
    metadata = {name: value for name, value in standard.items() if name not in ABSENT}
    metadata.update(
        authorization_endpoint=f"{issuer}/",
        token_endpoint=f"{issuer}/v2/token",
        scopes_supported=[name for name in standard["scopes_supported"] if name not in OPENID_CONNECT],
        grant_types_supported=["authorization_code", "refresh_token", "implicit"],
        response_types_supported=["code", "token"],  # LiveChat's docs describe the implicit grant
        response_modes_supported=["query", "fragment"],
        code_challenge_methods_supported=["plain", "S256"],
        mock_server_profile="livechat",
        mock_server_profile_description=DESCRIPTION.format(issuer=issuer),
    )
    return metadata
