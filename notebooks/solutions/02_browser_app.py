# 02 · a browser app: a public client, so no secret (token_endpoint_auth_method "none").
import requests

my_answer = requests.post(lab.endpoint("registration"), json={
    "client_name": "My Widget",
    "redirect_uris": ["http://127.0.0.1:8765/callback"],
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "chats--access:ro",
}).json()
