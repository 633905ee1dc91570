use bytes::Bytes;
use image::{ImageEncoder, RgbImage, RgbaImage};
use img_parts::{DynImage, ImageEXIF};

use super::*;

const LIMITS: PictureLimits = PictureLimits {
    max_bytes: 4 << 20,
    max_side: 4000,
    max_pixels: 4_000_000,
};

/// A `width`×`height` JPEG: red on the left half, blue on the right, so orientation shows.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let picture = RgbImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            image::Rgb([220, 20, 20])
        } else {
            image::Rgb([20, 20, 220])
        }
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&picture)
        .unwrap();
    out
}

/// An EXIF block (big-endian TIFF) with an orientation and a GPS directory saying "N".
fn exif_with_gps(orientation: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    t.extend_from_slice(&2u16.to_be_bytes());
    // Orientation, SHORT, 1
    t.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    t.extend_from_slice(&orientation.to_be_bytes());
    t.extend_from_slice(&[0, 0]);
    // GPS IFD pointer, LONG, 1, at offset 38
    t.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
    t.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(t.len(), 38);
    // GPS directory: GPSLatitudeRef, ASCII, 2: "N\0"
    t.extend_from_slice(&1u16.to_be_bytes());
    t.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    t.extend_from_slice(&0u32.to_be_bytes());
    t
}

fn with_exif(picture: Vec<u8>, exif: Vec<u8>) -> Bytes {
    let mut image = DynImage::from_bytes(Bytes::from(picture)).unwrap().unwrap();
    image.set_exif(Some(Bytes::from(exif)));
    image.encoder().bytes()
}

fn exif_of(bytes: &Bytes) -> Option<Bytes> {
    DynImage::from_bytes(bytes.clone()).unwrap().unwrap().exif()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn variants_are_400_and_800_wide_jpegs_with_the_aspect_kept() {
    let checked = check(Bytes::from(jpeg(1600, 1000)), &LIMITS).unwrap();
    assert_eq!(checked.format, Format::Jpeg);
    assert_eq!((checked.width, checked.height), (1600, 1000));
    let sizes: Vec<_> = checked
        .variants
        .iter()
        .map(|v| (v.kind, v.width, v.height))
        .collect();
    assert_eq!(
        sizes,
        [
            (VariantKind::Medium, 800, 500),
            (VariantKind::Small, 400, 250)
        ]
    );
    for variant in &checked.variants {
        assert_eq!(Format::sniff(&variant.bytes), Some(Format::Jpeg));
        let decoded = image::load_from_memory(&variant.bytes).unwrap();
        assert_eq!(
            (decoded.width(), decoded.height()),
            (variant.width, variant.height)
        );
    }
}

#[test]
fn a_small_picture_is_never_upscaled() {
    let checked = check(Bytes::from(jpeg(300, 200)), &LIMITS).unwrap();
    for variant in &checked.variants {
        assert_eq!(
            (variant.width, variant.height),
            (300, 200),
            "{:?}",
            variant.kind
        );
    }
}

#[test]
fn the_gps_position_is_gone_and_the_orientation_is_applied_or_kept() {
    // Orientation 6: the camera was turned; the picture shows rotated 90° clockwise.
    let upload = with_exif(jpeg(600, 300), exif_with_gps(6));
    assert!(contains(&upload, &exif_with_gps(6)));
    let checked = check(upload, &LIMITS).unwrap();
    assert_eq!((checked.width, checked.height), (300, 600), "shown upright");
    assert!(!contains(&checked.served, &exif_with_gps(6)));
    let kept = exif_of(&checked.served).expect("the orientation stays with the picture");
    assert_eq!(
        kept,
        orientation_only_exif(6),
        "nothing but the orientation"
    );
    for variant in &checked.variants {
        assert_eq!(exif_of(&variant.bytes), None, "variants carry no metadata");
        assert_eq!((variant.width, variant.height), (300, 600));
        // Rotated clockwise, the red left half is now on top.
        let decoded = image::load_from_memory(&variant.bytes).unwrap().into_rgb8();
        let top = decoded.get_pixel(150, 10);
        let bottom = decoded.get_pixel(150, 590);
        assert!(top[0] > 150 && top[2] < 100, "top {top:?}");
        assert!(bottom[2] > 150 && bottom[0] < 100, "bottom {bottom:?}");
    }
    // Upright pictures keep no EXIF at all.
    let upright = check(with_exif(jpeg(60, 30), exif_with_gps(1)), &LIMITS).unwrap();
    assert_eq!(exif_of(&upright.served), None);
}

#[test]
fn the_same_upload_gives_the_same_bytes() {
    let upload = with_exif(jpeg(500, 400), exif_with_gps(3));
    let first = check(upload.clone(), &LIMITS).unwrap();
    let second = check(upload, &LIMITS).unwrap();
    assert_eq!(first.served, second.served);
    assert_eq!(first.variants[1].bytes, second.variants[1].bytes);
}

#[test]
fn png_and_webp_are_accepted_and_transparency_goes_white() {
    let picture = RgbaImage::from_fn(40, 20, |x, _| {
        image::Rgba([0, 0, 0, if x < 20 { 0 } else { 255 }])
    });
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&picture, 40, 20, image::ExtendedColorType::Rgba8)
        .unwrap();
    let checked = check(Bytes::from(png), &LIMITS).unwrap();
    assert_eq!(checked.format, Format::Png);
    let small = image::load_from_memory(&checked.variants[1].bytes)
        .unwrap()
        .into_rgb8();
    assert!(small.get_pixel(2, 10)[0] > 240, "transparent shows white");
    assert!(small.get_pixel(38, 10)[0] < 15, "opaque black stays black");

    let mut webp = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
        .write_image(&picture, 40, 20, image::ExtendedColorType::Rgba8)
        .unwrap();
    assert_eq!(
        check(Bytes::from(webp), &LIMITS).unwrap().format,
        Format::Webp
    );
}

fn refusal(upload: impl Into<Bytes>) -> String {
    match check(upload.into(), &LIMITS) {
        Ok(_) => panic!("accepted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn what_is_not_a_picture_is_refused_by_its_content() {
    assert!(refusal(Vec::new()).contains("empty"));
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
    assert!(refusal(&svg[..]).contains("not a photo"));
    assert!(refusal(&b"<!DOCTYPE html><html><body>hi</body></html>"[..]).contains("not a photo"));
    assert!(refusal(&b"GIF89a\x01\x00\x01\x00"[..]).contains("not a photo"));
    let huge = vec![0xFF; (LIMITS.max_bytes + 1) as usize];
    assert!(refusal(huge).contains("over the limit"));
}

#[test]
fn damaged_and_truncated_pictures_are_refused() {
    let whole = jpeg(800, 600);
    let truncated = whole[..whole.len() / 2].to_vec();
    assert!(refusal(truncated).contains("damaged"), "a truncated JPEG");
    let mut corrupt = whole.clone();
    for byte in &mut corrupt[200..] {
        *byte = 0xFF;
    }
    assert!(refusal(corrupt).contains("damaged"), "a corrupt JPEG");
    let header_only = &b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"[..];
    assert!(
        refusal(header_only).contains("damaged"),
        "a PNG cut in its header"
    );
    let noisy = RgbImage::from_fn(300, 200, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 13) as u8, (x ^ y) as u8])
    });
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&noisy, 300, 200, image::ExtendedColorType::Rgb8)
        .unwrap();
    assert!(
        refusal(png[..png.len() / 2].to_vec()).contains("damaged"),
        "a truncated PNG"
    );
    let mut webp = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
        .write_image(&noisy, 300, 200, image::ExtendedColorType::Rgb8)
        .unwrap();
    assert!(
        refusal(webp[..webp.len() / 2].to_vec()).contains("damaged"),
        "a truncated WebP"
    );
}

/// A PNG of a few hundred bytes that declares a `width`×`height` picture (its pixels all
/// zero, compressed): a decompression bomb when large.
fn declared_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut png, b"IHDR", &header);
    // A zlib stream of a few zero rows is enough to claim the rest.
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn a_decompression_bomb_is_refused_before_its_pixels_are_allocated() {
    let bomb = declared_png(60_000, 60_000);
    assert!(bomb.len() < 100);
    let message = refusal(bomb);
    assert!(
        message.contains("60000×60000") || message.contains("larger"),
        "{message}"
    );
    // Within the sides but over the pixel count.
    let message = refusal(declared_png(3000, 3000));
    assert!(message.contains("3000×3000"), "{message}");
}

#[test]
fn stored_pictures_make_their_variants_again() {
    let checked = check(with_exif(jpeg(900, 450), exif_with_gps(6)), &LIMITS).unwrap();
    let again = variants_of(&checked.served, &LIMITS).unwrap();
    for (made, remade) in checked.variants.iter().zip(&again) {
        assert_eq!(
            (made.kind, made.width, made.height),
            (remade.kind, remade.width, remade.height)
        );
    }
}
