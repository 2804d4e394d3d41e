# 00 · token endpoint: read it from the server's metadata, never type it.
my_answer = metadata["token_endpoint"]
