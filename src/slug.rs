//! URL slugs: ASCII, lower case, words joined by `-`, never empty.

/// Turns any text into a URL segment: transliterated to ASCII, lower-cased, runs of anything
/// that is not a letter or digit collapsed to one `-`. Empty input gives `untitled`.
pub fn slugify(text: &str) -> String {
    let ascii = deunicode::deunicode(text);
    let mut slug = String::with_capacity(ascii.len());
    let mut dash = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    // Keep segments short enough for every file system once `index.html` is appended.
    if slug.len() > 100 {
        slug.truncate(100);
        while slug.ends_with('-') {
            slug.pop();
        }
    }
    if slug.is_empty() {
        slug.push_str("untitled");
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn transliterates_and_collapses() {
        assert_eq!(slugify("Résumé of Incident 14"), "resume-of-incident-14");
        assert_eq!(slugify("  DDF\\Bulletin 12.pdf "), "ddf-bulletin-12-pdf");
        assert_eq!(slugify("---"), "untitled");
        assert_eq!(slugify("東京"), "dong-jing");
    }

    #[test]
    fn long_text_is_cut_without_a_trailing_dash() {
        let slug = slugify(&"ab ".repeat(80));
        assert!(slug.len() <= 100);
        assert!(!slug.ends_with('-'));
    }
}
