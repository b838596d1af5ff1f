"""The static files storage of production: WhiteNoise's hashed and compressed files, of minified JS and CSS.

collectstatic copies each file through the storage's `_save`; minifying there, before the
manifest storage hashes the copy and WhiteNoise compresses it, makes the hashed name, the
manifest and the .gz/.br copies all of the minified content. The sources in the repository
stay as they are written, and so does what DEBUG's static view serves from them.

Only the app's own files (under frontend/) are minified: the admin's and the API browser's
come from their packages and are served as those ship them.
"""

from django.core.files.base import ContentFile
from rcssmin import cssmin
from rjsmin import jsmin
from whitenoise.storage import CompressedManifestStaticFilesStorage

MINIFIED_PREFIX = "frontend/"


def minifies(name: str) -> bool:
    """Whether the file is one of the app's scripts or style sheets."""
    return bool(name) and name.endswith((".js", ".css")) and name.replace("\\", "/").startswith(MINIFIED_PREFIX)


def minified(name: str, data: bytes) -> bytes:
    """The file's content as production serves it: JS and CSS of the app minified, anything else unchanged.

    rjsmin and rcssmin only drop comments and whitespace (names are kept), and rjsmin leaves
    string and template literals and regular expressions as they are.
    """
    if not minifies(name):
        return data
    if name.endswith(".js"):
        return jsmin(data.decode("utf-8")).encode("utf-8")
    return cssmin(data.decode("utf-8")).encode("utf-8")


class MinifiedCompressedManifestStorage(CompressedManifestStaticFilesStorage):
    """CompressedManifestStaticFilesStorage whose JS and CSS of the app are saved minified."""

    def file_hash(self, name, content=None):
        """The hash in the name is of the minified content, what is served under it.

        The manifest storage hashes the source file as it reads it from the app's folder; a
        new minifier's different output must get a new name too.
        """
        if content is not None and minifies(name):
            content.seek(0)
            content = ContentFile(minified(name, content.read()))
        return super().file_hash(name, content)

    def _save(self, name, content):
        if minifies(name):
            content.seek(0)
            content = ContentFile(minified(name, content.read()))
        return super()._save(name, content)
