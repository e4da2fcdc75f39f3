"""cserve's compatibility package: the names Seldon model classes import (spec §2.1), used when
the real seldon_core package is not installed. Our own code, with the reference's behaviour."""
