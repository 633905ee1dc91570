//! Pictures, checked and made smaller: what an uploaded photo's bytes are (by their content:
//! magic bytes, then a whole decode under limits on bytes, width, height and pixels), the
//! picture as the site serves it (its metadata taken out: EXIF, XMP and text chunks, where GPS
//! positions live; the orientation kept), and its variants (JPEG at quality 85, 400 and 800
//! pixels wide, aspect kept, never upscaled, the EXIF orientation applied, no metadata).
//!
//! Everything here is CPU work on bytes in memory, run on the photo workers (`workers`), never
//! on a request thread. Decoding: the `image` crate (zune-jpeg, png, image-webp), with limits
//! checked on the header before any pixel buffer is allocated, so a small file that declares a
//! huge picture costs nothing. Resizing: `fast_image_resize` (Lanczos3, SIMD), the medium
//! variant from the photo and the small one from the medium, which halves the work of the
//! second with no visible difference. Metadata: `img-parts`, which edits the container
//! (segments, chunks) without decoding or re-encoding the picture.

use bytes::Bytes;
use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use img_parts::{DynImage, ImageEXIF};

use crate::error::{Result, ServiceError};

/// JPEG quality of the variants.
const VARIANT_QUALITY: u8 = 85;

/// How large a picture may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureLimits {
    /// Largest file, in bytes.
    pub max_bytes: u64,
    /// Widest and tallest picture, in pixels.
    pub max_side: u32,
    /// Most pixels (width × height).
    pub max_pixels: u64,
}

/// The kinds of picture accepted, as their content says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
    /// WebP (`RIFF .... WEBP`).
    Webp,
}

impl Format {
    /// `jpeg`, `png` or `webp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
        }
    }

    /// The format spelled `text` (as stored), if any.
    pub fn parse(text: &str) -> Option<Format> {
        [Format::Jpeg, Format::Png, Format::Webp]
            .into_iter()
            .find(|format| format.as_str() == text)
    }

    /// Its media type, for `Content-Type`.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
        }
    }

    /// The format whose magic bytes `bytes` starts with.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Format::Webp)
        } else {
            None
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::Webp => ImageFormat::WebP,
        }
    }
}

/// The two variants, and how wide each is at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantKind {
    /// 400 pixels wide: thumbnails in lists.
    Small,
    /// 800 pixels wide: the photo's page.
    Medium,
}

impl VariantKind {
    /// Both, the larger first (the smaller is made from it).
    pub const ALL: [VariantKind; 2] = [VariantKind::Medium, VariantKind::Small];

    /// `small` or `medium`.
    pub fn as_str(self) -> &'static str {
        match self {
            VariantKind::Small => "small",
            VariantKind::Medium => "medium",
        }
    }

    /// The kind spelled `text`, if any.
    pub fn parse(text: &str) -> Option<VariantKind> {
        VariantKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Its largest width, in pixels.
    pub fn max_width(self) -> u32 {
        match self {
            VariantKind::Small => 400,
            VariantKind::Medium => 800,
        }
    }
}

/// A variant, encoded.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Which one.
    pub kind: VariantKind,
    /// The JPEG bytes.
    pub bytes: Bytes,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// An uploaded picture, checked, as the site keeps it.
#[derive(Debug, Clone)]
pub struct Checked {
    /// What it is.
    pub format: Format,
    /// The picture as served: the upload without its metadata (the orientation kept).
    pub served: Bytes,
    /// Width as shown (orientation applied).
    pub width: u32,
    /// Height as shown.
    pub height: u32,
    /// Its variants.
    pub variants: Vec<Variant>,
}

/// Checks an upload by its content and makes what the site keeps of it: the picture as served
/// and its variants. A file that is empty, too large, not a JPEG, PNG or WebP, larger than the
/// limits once its header is read, or that does not decode whole is
/// [`ServiceError::BadRequest`] or [`ServiceError::TooLarge`], with a message that says which.
pub fn check(upload: Bytes, limits: &PictureLimits) -> Result<Checked> {
    if upload.is_empty() {
        return Err(ServiceError::bad_request("the file is empty"));
    }
    if upload.len() as u64 > limits.max_bytes {
        return Err(ServiceError::TooLarge {
            size: upload.len() as u64,
            limit: limits.max_bytes,
        });
    }
    let format = Format::sniff(&upload).ok_or_else(|| {
        ServiceError::bad_request(
            "this is not a photo: only JPEG, PNG and WebP pictures are accepted (by their \
             content, whatever the file is called)",
        )
    })?;
    if format == Format::Jpeg && !jpeg_is_whole(&upload) {
        return Err(ServiceError::bad_request(
            "the picture is damaged or incomplete: its JPEG data has no end",
        ));
    }
    let (picture, orientation) = decode(&upload, format, limits)?;
    let served = strip_metadata(upload, format, orientation)?;
    let (width, height) = (picture.width(), picture.height());
    let variants = variants(picture)?;
    Ok(Checked {
        format,
        served,
        width,
        height,
        variants,
    })
}

/// The variants of a picture the site already keeps (`served`, as [`check`] made it): for
/// photos whose variants are missing.
pub fn variants_of(served: &[u8], limits: &PictureLimits) -> Result<Vec<Variant>> {
    let format = Format::sniff(served)
        .ok_or_else(|| ServiceError::bad_request("a stored photo is not a picture"))?;
    let (picture, _) = decode(served, format, limits)?;
    variants(picture)
}

/// Whether a JPEG's end-of-image marker follows its first scan. The decoder fills in what is
/// missing of a cut-off JPEG rather than failing, so a truncated upload is caught here: inside
/// scan data every `FF` byte is followed by `00` or a restart marker, so `FF D9` after the first
/// start-of-scan (`FF DA`) is the end of the image (an EXIF thumbnail's own end comes before).
fn jpeg_is_whole(bytes: &[u8]) -> bool {
    let Some(scan) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[scan..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// Decodes a whole picture under `limits`, orientation applied; returns it and the EXIF
/// orientation it had (1 when none).
fn decode(bytes: &[u8], format: Format, limits: &PictureLimits) -> Result<(DynamicImage, u8)> {
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format.image_format());
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    // Four bytes a pixel (RGBA) and some room for the decoder's own buffers.
    decode_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4) + (64 << 20));
    reader.limits(decode_limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || width > limits.max_side || height > limits.max_side {
        return Err(too_many_pixels(width, height, limits));
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    picture.apply_orientation(orientation);
    Ok((picture, orientation.to_exif()))
}

fn too_many_pixels(width: u32, height: u32, limits: &PictureLimits) -> ServiceError {
    ServiceError::BadRequest(format!(
        "the picture is {width}×{height} pixels: the limit is {} pixels a side and {} \
         megapixels",
        limits.max_side,
        limits.max_pixels / 1_000_000
    ))
}

fn undecodable(error: image::ImageError) -> ServiceError {
    match error {
        image::ImageError::Limits(_) => ServiceError::bad_request(
            "the picture is larger than this site takes (width, height or memory)",
        ),
        error => ServiceError::BadRequest(format!(
            "the picture is damaged or incomplete and cannot be read ({error})"
        )),
    }
}

/// `upload` without its metadata (EXIF, XMP, IPTC, text chunks), with a new EXIF block that
/// holds only the orientation when it was not the default, so the picture still shows upright.
fn strip_metadata(upload: Bytes, format: Format, orientation: u8) -> Result<Bytes> {
    let damaged = |error: img_parts::Error| {
        ServiceError::BadRequest(format!("the picture's structure is damaged ({error})"))
    };
    let mut image = match format {
        Format::Jpeg => {
            let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(upload).map_err(damaged)?;
            // APP1: EXIF and XMP; APP13: Photoshop's IPTC.
            jpeg.segments_mut()
                .retain(|s| !matches!(s.marker(), 0xE1 | 0xED));
            DynImage::Jpeg(jpeg)
        }
        Format::Png => {
            let mut png = img_parts::png::Png::from_bytes(upload).map_err(damaged)?;
            png.chunks_mut()
                .retain(|c| !matches!(&c.kind(), b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt"));
            DynImage::Png(png)
        }
        Format::Webp => {
            let mut webp = img_parts::webp::WebP::from_bytes(upload).map_err(damaged)?;
            webp.remove_chunks_by_id(img_parts::webp::CHUNK_XMP);
            DynImage::WebP(webp)
        }
    };
    let exif = (orientation != 1).then(|| orientation_only_exif(orientation));
    image.set_exif(exif);
    Ok(image.encoder().bytes())
}

/// A TIFF-structured EXIF block with one entry: the orientation.
fn orientation_only_exif(orientation: u8) -> Bytes {
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"MM\0\x2a"); // big-endian TIFF
    tiff.extend_from_slice(&8u32.to_be_bytes()); // the first directory follows the header
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&u16::from(orientation).to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // the value's field is four bytes
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next directory
    Bytes::from(tiff)
}

/// The variants of an upright picture, the medium one first.
fn variants(picture: DynamicImage) -> Result<Vec<Variant>> {
    let mut source = rgb_on_white(picture)?;
    let mut resizer = Resizer::new();
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    let mut made = Vec::with_capacity(VariantKind::ALL.len());
    for kind in VariantKind::ALL {
        let (width, height) = (source.width(), source.height());
        if width > kind.max_width() {
            let new_height = (u64::from(height) * u64::from(kind.max_width()))
                .div_ceil(u64::from(width))
                .max(1) as u32;
            let mut smaller = Image::new(kind.max_width(), new_height, PixelType::U8x3);
            resizer
                .resize(&source, &mut smaller, &options)
                .map_err(|e| ServiceError::Internal(Box::new(e)))?;
            source = smaller;
        }
        made.push(Variant {
            kind,
            bytes: encode_jpeg(&source)?,
            width: source.width(),
            height: source.height(),
        });
    }
    Ok(made)
}

/// The picture as 8-bit RGB, transparent parts over white (JPEG has no transparency).
fn rgb_on_white(picture: DynamicImage) -> Result<Image<'static>> {
    let (width, height) = (picture.width(), picture.height());
    let pixels = if picture.color().has_alpha() {
        let rgba = picture.into_rgba8();
        let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
        for pixel in rgba.chunks_exact(4) {
            let alpha = u16::from(pixel[3]);
            for &channel in &pixel[..3] {
                let over_white = (u16::from(channel) * alpha + 255 * (255 - alpha)) / 255;
                rgb.push(over_white as u8);
            }
        }
        rgb
    } else {
        picture.into_rgb8().into_raw()
    };
    Image::from_vec_u8(width, height, pixels, PixelType::U8x3)
        .map_err(|e| ServiceError::Internal(Box::new(e)))
}

fn encode_jpeg(picture: &Image<'_>) -> Result<Bytes> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, VARIANT_QUALITY)
        .encode(
            picture.buffer(),
            picture.width(),
            picture.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| ServiceError::Internal(Box::new(e)))?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
#[path = "picture_tests.rs"]
mod tests;
