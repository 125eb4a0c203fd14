"""Static files with content-hashed names, compressed, in the demo too.

`collectstatic` (production's deploy step, and `make demo` before it serves) writes every file under a
name that carries a hash of its content (plotly-cartesian-4.1.1.min.<hash>.js) with gzip (and brotli,
when installed) copies; whitenoise serves those compressed and, since the name changes whenever the
content does, cacheable for a year ("immutable"). Django's manifest storage hands out hashed names only
with DEBUG off; the demo runs with DEBUG on, so here every page asks for the hashed name whenever
collectstatic has written one. Before collectstatic has run (tests, a bare `runserver`) a page still
renders: the file's plain name, which whitenoise serves from the app folders (WHITENOISE_USE_FINDERS).
"""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedCompressedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    manifest_strict = False  # a file collectstatic has not hashed yet keeps its plain name

    def url(self, name: str | None, force: bool = False) -> str:
        try:
            return super().url(name, force=True)  # hashed with DEBUG on too (the demo)
        except ValueError:  # collectstatic has not run: the file is not in STATIC_ROOT yet
            return FileSystemStorage.url(self, name)
