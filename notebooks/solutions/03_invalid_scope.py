# 03 · provoke invalid_scope: ask for a scope the app never registered.
from requests_oauthlib import OAuth2Session

from oauth_lab.exercises import authorization
from oauth_lab.widgets.consent_panel import ConsentPanel

greedy = OAuth2Session("fernhollow-reports", redirect_uri=lab.redirect_uri, scope=["webhooks--all:rw"])
url, _ = greedy.authorization_url(lab.metadata["authorization_endpoint"])
my_answer = ConsentPanel(lab, url).value  # the server answered the app at once: no consent page
authorization.invalid_scope.check(my_answer)
