"""Names of this package for editors and type checkers; the package loads them lazily (lazy_loader)."""

from .compare import (compare_stacks as compare_stacks)
from .integration import (integration_seconds as integration_seconds)
from .session import (LiveSession as LiveSession, SessionConfig as SessionConfig)
from .snr import (aperture_snr as aperture_snr, fit_sqrt_growth as fit_sqrt_growth, time_to_snr as time_to_snr)
from .tracking import (Track as Track, match_boxes as match_boxes, update_tracks as update_tracks)
