"""Pillow's side of `photo_variants` (benches/src/bin/photo_variants.rs): for each JPEG named on
the command line, what the photo site does with an upload: decode it, apply its EXIF
orientation, and make the 800 and 400 pixel wide variants (Lanczos, as Albumy resizes) encoded
as JPEG at quality 85. Prints one JSON object: the milliseconds each photo took one at a time,
and the milliseconds per photo with `--workers` processes busy at once."""

import io
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from PIL import Image, ImageOps


def variants(path):
    started = time.perf_counter()
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        img = img.convert("RGB")
        for width in (800, 400):
            height = max(1, round(img.height * width / img.width))
            out = io.BytesIO()
            img.resize((width, height), Image.LANCZOS).save(out, "JPEG", quality=85)
    return (time.perf_counter() - started) * 1000


def main():
    args = sys.argv[1:]
    workers = int(args[args.index("--workers") + 1])
    paths = [a for a in args if a.endswith(".jpg")]
    variants(paths[0])  # warm up
    one_at_a_time = [variants(p) for p in paths]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(variants, paths[:workers]))  # warm up the workers
        started = time.perf_counter()
        list(pool.map(variants, paths * workers))
        elapsed = (time.perf_counter() - started) * 1000
    print(json.dumps({
        "pillow": Image.__version__,
        "one_at_a_time_ms": one_at_a_time,
        "busy_ms_per_photo": elapsed / (len(paths) * workers),
    }))


if __name__ == "__main__":
    main()
