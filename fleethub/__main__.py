import sys

from fleethub.cli import main

sys.exit(main())
