# 02 · a browser dashboard: code in a browser cannot keep a secret, so a public client
# (token_endpoint_auth_method "none"), and only the scope the job needs: the chats of the
# groups the agent works in (chats--access:ro), read-only.
import requests

from oauth_lab.exercises import register

my_answer = requests.post(lab.endpoint("registration"), json={
    "client_name": "Team Chats Dashboard",
    "redirect_uris": [lab.redirect_uri],
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "chats--access:ro",
}).json()
register.least_privilege.check(my_answer)
