# 03 · ask Jane for customers:ro only, with our own state, and let her allow it.
from requests_oauthlib import OAuth2Session

from oauth_lab.exercises import authorization
from oauth_lab.widgets.consent_panel import ConsentPanel

# The state goes to the session, which keeps it and compares it when the app exchanges the code
# (given only to authorization_url(), it is sent but never compared).
mine = OAuth2Session("fernhollow-reports", redirect_uri=lab.redirect_uri, scope=["customers:ro"], pkce="S256",
                     state="my-own-state-42")
url, state = mine.authorization_url(lab.metadata["authorization_endpoint"])
my_answer = ConsentPanel(lab, url).decide("Allow")
authorization.customers_request.check(my_answer)
