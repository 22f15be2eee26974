"""`python -m api.worker` == `lasso worker`."""

import sys

from api.worker.cli import main

sys.exit(main())
