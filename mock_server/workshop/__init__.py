"""Workshop mode: one server for a whole class (``python -m mock_server --workshop``).

A layer on top of the same app factory; the single-learner server does not know it exists.

- ``classroom``   the class's shared database: tenants (one isolated world per learner), each
                  learner's virtual clock, transcript and progress — every worker reads it
- ``tenants``     routing ``/t/<tenant>/…`` to the learner's world, chosen once per request
- ``transcripts`` a learner's transcript in the class database
- ``agent_data``  a learner's agent API data in the class database
- ``progress``    what a learner's exchanges say about where they are in the course
- ``front``       the class's own pages: joining, the instructor's dashboard
- ``serve``       the command line and the production HTTP server (granian)
- ``rsgi``        the app behind granian's RSGI interface: bodies in full before any thread
"""
