# 16 · may the client go on? The checks of steps 2 and 3, each an exact comparison: the API's
# metadata is about the URL called (RFC 9728 §3.3), it names this authorization server, and the
# server offers PKCE with S256 (the MCP spec: otherwise, refuse to proceed).
from oauth_lab.exercises import where_to_sign_in


def may_go_on(api, resource_metadata, server_metadata):
    """Whether the client may use these documents to sign in for `api`."""
    return (resource_metadata.get("resource") == api
            and server_metadata.get("issuer") in resource_metadata.get("authorization_servers", [])
            and "S256" in server_metadata.get("code_challenge_methods_supported", []))


where_to_sign_in.may_go_on.check(may_go_on)
