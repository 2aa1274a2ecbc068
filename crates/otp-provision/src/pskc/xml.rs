//! A small element tree over quick-xml events, one top-level element of
//! the container at a time.

use core::fmt;

use super::error::PskcError;

// ----------------------------------------------------------------------
// A small element tree over quick-xml events, one top-level element of
// the container at a time.

/// Most elements kept for one top-level element of the container (a
/// `KeyPackage` of RFC 6030 has about 25).
pub(super) const MAX_KEPT_ELEMENTS: usize = 4096;
/// Most attributes on one element (RFC 6030 uses at most 3).
pub(super) const MAX_ATTRIBUTES: usize = 64;

#[derive(Debug, Default)]
pub(super) struct Element {
    /// Local name (prefix stripped).
    pub(super) name: String,
    /// Namespace prefix, if any.
    pub(super) prefix: String,
    /// Attributes: (qualified name, value).
    pub(super) attrs: Vec<(String, String)>,
    pub(super) text: String,
    pub(super) children: Vec<Element>,
}

impl Element {
    pub(super) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(super) fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub(super) fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |e, n| e.child(n))
    }

    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.rsplit(':').next() == Some(name) && !k.starts_with("xmlns"))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn trimmed(&self) -> &str {
        self.text.trim()
    }
}

pub(super) fn xml_error(e: impl fmt::Display) -> PskcError {
    PskcError::Xml {
        message: e.to_string(),
    }
}

/// A reader's error: the input failed ([`PskcError::Read`]), or is not
/// well-formed XML.
pub(super) fn read_error(e: quick_xml::Error) -> PskcError {
    match e {
        quick_xml::Error::Io(io) => PskcError::Read {
            message: io.to_string(),
        },
        other => xml_error(other),
    }
}

pub(super) fn split_name(qname: &str) -> (String, String) {
    match qname.split_once(':') {
        Some((p, l)) => (p.to_owned(), l.to_owned()),
        None => (String::new(), qname.to_owned()),
    }
}

/// An element's attributes, checked (well-formed, at most
/// [`MAX_ATTRIBUTES`]) and, if `keep`, returned.
pub(super) fn attributes(
    start: &quick_xml::events::BytesStart<'_>,
    keep: bool,
) -> Result<Vec<(String, String)>, PskcError> {
    let mut attrs = Vec::new();
    for (n, a) in start.attributes().enumerate() {
        if n >= MAX_ATTRIBUTES {
            return Err(xml_error(format!(
                "an element has more than {MAX_ATTRIBUTES} attributes"
            )));
        }
        let a = a.map_err(xml_error)?;
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(xml_error)?;
        if keep {
            attrs.push((a.key.as_ref().to_owned(), value.into_owned()));
        }
    }
    Ok(attrs)
}
