"""Everything a user runs: the HTTP service, batch scoring and the command line.

Lives here: the BentoML service and its request schemas (``service``, ``schemas``, ``ui``
for the web page), the scoring steps the service and batch share (``scoring``), batch
scoring (``batch/``, a package with one module per step), the client of a running service
(``remote``), the server as a managed subprocess (``server_process``) and the one typer
CLI (``cli``, with its ``framing annotate`` sub-app in ``annotate_cli``).

May import: ``model``; ``training`` and ``eval`` only from ``cli`` and ``annotate_cli`` (the
commands that train, evaluate, report and turn annotations into seeds). Nothing below imports
from here except ``eval.bench``, which measures it.
"""
