# 13 · two scopes from LiveChat: one comma-separated string (a list would be joined with a space,
# which LiveChat reads as one unknown scope name).
from requests_oauthlib import OAuth2Session

from oauth_lab.exercises import livechat
from oauth_lab.widgets.consent_panel import ConsentPanel

lc.clock.advance(30)
app = OAuth2Session("fernhollow-reports", redirect_uri=lc.redirect_uri, scope="chats--access:ro,customers:ro",
                    pkce="S256")
url, state = app.authorization_url(lc.metadata["authorization_endpoint"])
redirect = ConsentPanel(lc, url).decide("Allow")
my_answer = app.fetch_token(lc.endpoint("token"), authorization_response=redirect, client_secret="reports-secret")
livechat.two_scopes.check(my_answer, lc)
