//! Raster images (`.jpg .jpeg .png .gif .webp .tiff .tif .bmp`): a small and a medium preview,
//! EXIF orientation applied, re-encoded without any metadata (JPEG, or PNG when the image has
//! transparency), and facts: dimensions and whether the original carries an EXIF GPS location.
//!
//! Decoding is bounded: the header's dimensions are checked before any pixel is decoded, and
//! the decoder runs with [`image::Limits`], so a file claiming 100000×100000 pixels is refused
//! with a warning instead of an allocation. SVG is not here on purpose: it can carry script, so
//! it is only ever offered as a download (see `other`).

use std::io::Cursor;

use fast_image_resize::{IntoImageView, Resizer};
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageReader, Limits};

use super::{DerivedFile, ExtractContext, Extracted, Extractor, ORIGINAL_URL, escape_html};
use crate::discover::SourceFile;

/// Extensions decoded as raster images.
pub(super) const IMAGE_EXTENSIONS: &[&str] =
    &["jpg", "jpeg", "png", "gif", "webp", "tiff", "tif", "bmp"];

/// Widest or tallest image decoded.
const MAX_SIDE: u32 = 20_000;
/// Most pixels decoded (100 megapixels: 400 MB as RGBA, bounded again by `MAX_ALLOC`).
const MAX_PIXELS: u64 = 100_000_000;
/// Most memory the decoder may allocate.
const MAX_ALLOC: u64 = 512 * 1024 * 1024;
/// Longest side of the small preview (listings, galleries).
pub(super) const SMALL_SIDE: u32 = 320;
/// Longest side of the medium preview (the document page).
pub(super) const MEDIUM_SIDE: u32 = 1024;
/// JPEG quality of previews.
const JPEG_QUALITY: u8 = 82;

/// Shows raster images through previews.
pub(super) struct ImageExtractor;

impl Extractor for ImageExtractor {
    fn name(&self) -> &'static str {
        "image"
    }

    fn handles(&self, source: &SourceFile) -> bool {
        IMAGE_EXTENSIONS.contains(&source.extension.as_str())
    }

    fn extract(&self, ctx: &ExtractContext<'_>) -> crate::Result<Extracted> {
        let mut extracted = Extracted {
            text: ctx.source.file_name().replace(['_', '-', '.'], " "),
            ..Extracted::default()
        };
        if let Some(gps) = exif_gps(ctx.bytes) {
            extracted.facts.push(("EXIF GPS".into(), gps.into()));
            if gps == "present" {
                extracted.warnings.push(
                    "the original carries an EXIF GPS location (previews are published without it)"
                        .into(),
                );
            }
        }
        match previews(ctx.bytes, "preview") {
            Ok(previews) => {
                extracted.facts.insert(
                    0,
                    (
                        "Dimensions".into(),
                        format!("{} × {} pixels", previews.width, previews.height),
                    ),
                );
                extracted
                    .facts
                    .insert(1, ("Format".into(), previews.format.to_owned()));
                let alt = escape_html(ctx.source.file_name());
                extracted.body_html = format!(
                    "<figure class=\"image-preview\"><a href=\"{ORIGINAL_URL}\"><img src=\"{}\" width=\"{}\" height=\"{}\" alt=\"{alt}\"></a>\
                     <figcaption>{} × {} pixels, shown at {} × {}; select the image for the original.</figcaption></figure>",
                    previews.medium.name,
                    previews.medium_size.0,
                    previews.medium_size.1,
                    previews.width,
                    previews.height,
                    previews.medium_size.0,
                    previews.medium_size.1,
                );
                extracted.derived.push(previews.medium);
                extracted.derived.push(previews.small);
            }
            Err(problem) => {
                extracted
                    .warnings
                    .push(format!("image not shown: {problem}"));
                extracted.facts.push(("Preview".into(), "none".into()));
                extracted.body_html = format!(
                    "<p class=\"no-preview\">No preview: {}. The original is offered as a download.</p>",
                    escape_html(&problem)
                );
            }
        }
        Ok(extracted)
    }
}

/// The previews of one image.
#[derive(Debug)]
pub(super) struct Previews {
    /// Width of the original, after orientation.
    pub(super) width: u32,
    /// Height of the original, after orientation.
    pub(super) height: u32,
    /// The decoder's name for the format (`Png`, `Jpeg`, …).
    pub(super) format: &'static str,
    /// At most [`SMALL_SIDE`] pixels on its longest side.
    pub(super) small: DerivedFile,
    /// At most [`MEDIUM_SIDE`] pixels on its longest side.
    pub(super) medium: DerivedFile,
    /// Width and height of `medium`.
    pub(super) medium_size: (u32, u32),
    /// Width and height of `small`.
    pub(super) small_size: (u32, u32),
}

/// Decodes `bytes` within the limits and makes both previews, named `<stem>.small.<ext>` and
/// `<stem>.medium.<ext>`. The error is a reader-facing reason.
pub(super) fn previews(bytes: &[u8], stem: &str) -> Result<Previews, String> {
    let (image, format) = decode(bytes)?;
    let (width, height) = (image.width(), image.height());
    let has_alpha = image.color().has_alpha();
    let source = if has_alpha {
        DynamicImage::ImageRgba8(image.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
    };
    drop(image);
    let ext = if has_alpha { "png" } else { "jpg" };
    let (medium_bytes, medium_size) = resize_encode(&source, MEDIUM_SIDE, has_alpha)?;
    let (small_bytes, small_size) = resize_encode(&source, SMALL_SIDE, has_alpha)?;
    Ok(Previews {
        width,
        height,
        format,
        small: DerivedFile {
            name: format!("{stem}.small.{ext}"),
            bytes: small_bytes,
        },
        medium: DerivedFile {
            name: format!("{stem}.medium.{ext}"),
            bytes: medium_bytes,
        },
        medium_size,
        small_size,
    })
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Decodes with orientation applied, refusing oversized images before decoding pixels.
fn decode(bytes: &[u8]) -> Result<(DynamicImage, &'static str), String> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|err| format!("unreadable ({err})"))?;
    let Some(format) = reader.format() else {
        return Err("not a recognised image format".into());
    };
    let format_name = format_name(format);
    // The header alone: no pixel buffer is allocated here.
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|err| format!("{format_name} header unreadable ({err})"))?;
    if w == 0 || h == 0 {
        return Err(format!("{format_name} claims {w} × {h} pixels"));
    }
    if w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(format!(
            "{format_name} claims {w} × {h} pixels, over the limit of {MAX_SIDE} pixels a side \
             and {MAX_PIXELS} in all: not decoded"
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let mut decoder = reader
        .into_decoder()
        .map_err(|err| format!("{format_name} not decodable ({err})"))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|err| format!("{format_name} not decodable ({err})"))?;
    image.apply_orientation(orientation);
    Ok((image, format_name))
}

fn format_name(format: image::ImageFormat) -> &'static str {
    use image::ImageFormat as F;
    match format {
        F::Png => "PNG",
        F::Jpeg => "JPEG",
        F::Gif => "GIF",
        F::WebP => "WebP",
        F::Tiff => "TIFF",
        F::Bmp => "BMP",
        _ => "image",
    }
}

/// Scales `source` (RGB8 or RGBA8) to fit in `side`×`side` (never up) and encodes it.
fn resize_encode(
    source: &DynamicImage,
    side: u32,
    has_alpha: bool,
) -> Result<(Vec<u8>, (u32, u32)), String> {
    let (w, h) = (source.width(), source.height());
    let (tw, th) = fit(w, h, side);
    let pixels: Vec<u8>;
    let buffer: &[u8] = if (tw, th) == (w, h) {
        source.as_bytes()
    } else {
        let pixel_type = source
            .pixel_type()
            .ok_or_else(|| "unsupported pixel layout".to_owned())?;
        let mut dst = fast_image_resize::images::Image::new(tw, th, pixel_type);
        Resizer::new()
            .resize(source, &mut dst, None)
            .map_err(|err| format!("resize failed ({err})"))?;
        pixels = dst.into_vec();
        &pixels
    };
    let mut out = Vec::new();
    let result = if has_alpha {
        image::codecs::png::PngEncoder::new(&mut out).write_image(
            buffer,
            tw,
            th,
            image::ExtendedColorType::Rgba8,
        )
    } else {
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).write_image(
            buffer,
            tw,
            th,
            image::ExtendedColorType::Rgb8,
        )
    };
    result.map_err(|err| format!("preview not encoded ({err})"))?;
    Ok((out, (tw, th)))
}

/// The size that fits `w`×`h` into a `side`-pixel square, keeping the aspect ratio.
fn fit(w: u32, h: u32, side: u32) -> (u32, u32) {
    if w <= side && h <= side {
        return (w, h);
    }
    let scale = |a: u32, b: u32| {
        ((u64::from(a) * u64::from(side) + u64::from(b) / 2) / u64::from(b)).max(1) as u32
    };
    if w >= h {
        (side, scale(h, w))
    } else {
        (scale(w, h), side)
    }
}

/// `Some("present")` when the file's EXIF holds GPS tags, `Some("none")` when it has EXIF
/// without them, `None` when it has no readable EXIF.
pub(super) fn exif_gps(bytes: &[u8]) -> Option<&'static str> {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let has_gps = exif
        .fields()
        .any(|field| field.tag.context() == exif::Context::Gps);
    Some(if has_gps { "present" } else { "none" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_inside_the_box() {
        assert_eq!(fit(4000, 3000, 1024), (1024, 768));
        assert_eq!(fit(3000, 4000, 320), (240, 320));
        assert_eq!(fit(100, 50, 320), (100, 50));
        assert_eq!(fit(100_000, 1, 320), (320, 1));
    }

    #[test]
    fn refuses_huge_headers_without_decoding() {
        // A PNG header claiming 100000 × 100000 pixels, and nothing else.
        let png = huge_png_header(100_000, 100_000);
        let err = previews(&png, "p").unwrap_err();
        assert!(err.contains("100000 × 100000"), "{err}");
    }

    #[test]
    fn makes_previews_with_alpha_as_png() {
        let mut img = image::RgbaImage::new(2000, 1000);
        img.put_pixel(0, 0, image::Rgba([255, 0, 0, 128]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let p = previews(&png, "preview").unwrap();
        assert_eq!((p.width, p.height), (2000, 1000));
        assert_eq!(p.medium.name, "preview.medium.png");
        assert_eq!(p.medium_size, (1024, 512));
        assert_eq!(p.small_size, (320, 160));
    }

    pub(crate) fn huge_png_header(w: u32, h: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        for chunk in [&b"IDAT"[..], &b"IEND"[..]] {
            png.extend_from_slice(&0u32.to_be_bytes());
            png.extend_from_slice(chunk);
            png.extend_from_slice(&crc32(chunk).to_be_bytes());
        }
        png
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
