"""Names of this package for editors and type checkers; the package loads them lazily (lazy_loader)."""

from .catalog import (CatalogObject as CatalogObject, cone_search as cone_search, lookup as lookup)
from .describe import (describe as describe)
from .hints import (Hint as Hint, hint_from_header as hint_from_header)
from .match import (IdentifyReport as IdentifyReport, ObjectMatch as ObjectMatch, expected_rule as expected_rule, identify as identify, match_score as match_score)
from .names import (label as label, matches_target as matches_target, resolve as resolve)
from .solver import (INSTALL_HELP as INSTALL_HELP, Solution as Solution, astrometry_status as astrometry_status, extract_stars as extract_stars, solve as solve, solve_xy as solve_xy)
