//! The streaming reader: the container's header, then one key package
//! at a time, memory bounded by one package.

use std::io::BufRead;

use quick_xml::{Reader, events::Event};
use zeroize::Zeroizing;

use super::{
    MAX_DEPTH,
    crypto::PreSharedKey,
    error::PskcError,
    limits::PskcLimits,
    reader::{Context, Package, check_root, read_package},
    xml::{Element, MAX_KEPT_ELEMENTS, attributes, read_error, split_name, xml_error},
};

/// The container's header, read before its first key package.
#[derive(Default)]
pub(super) struct Header {
    pub(super) encryption_key: Option<Element>,
    pub(super) mac_method: Option<Element>,
}

/// Reads a PSKC file as a stream: the root's attributes are checked at
/// once, `EncryptionKey` and `MACMethod` are kept, each `KeyPackage` is
/// built as a small tree, turned into a [`Package`], handed to `sink` and
/// dropped, and anything else is checked for well-formedness and skipped.
/// Memory is bounded by one key package, not by the file: the input is
/// read through a buffer of its own (zeroized when done), and more than
/// [`PskcLimits::max_bytes`] of it is [`PskcError::TooLarge`].
pub(super) fn read_stream<R: BufRead>(
    input: R,
    key: Option<&PreSharedKey>,
    limits: &PskcLimits,
    sink: &mut dyn FnMut(usize, Package) -> Result<(), PskcError>,
) -> Result<(), PskcError> {
    // One byte past the limit is read, to tell "exactly the limit" from
    // "more".
    let max = u64::try_from(limits.max_bytes).unwrap_or(u64::MAX);
    let mut reader = Reader::from_reader(input.take(max.saturating_add(1)));
    reader.config_mut().expand_empty_elements = true;
    reader.config_mut().check_end_names = true;
    let too_large = PskcError::TooLarge {
        bytes: limits.max_bytes.saturating_add(1),
        max: limits.max_bytes,
    };
    let mut event_buf: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut header = Header::default();
    let mut context: Option<Context<'_>> = None;
    // The top-level element being kept (a KeyPackage or part of the
    // header), innermost last; empty while skipping.
    let mut stack: Vec<Element> = Vec::new();
    let mut keeping = false;
    let mut kept = 0usize;
    let mut packages = 0usize;
    loop {
        let buf: &mut Vec<u8> = &mut event_buf;
        buf.clear();
        let event = reader.read_event_into(buf);
        if reader.get_ref().limit() == 0 {
            return Err(too_large);
        }
        match event.map_err(read_error)? {
            Event::Start(start) => {
                if depth == 0 && seen_root {
                    return Err(xml_error("content after the root element"));
                }
                if depth >= MAX_DEPTH {
                    return Err(xml_error("elements nested too deeply"));
                }
                depth = depth.saturating_add(1);
                let (prefix, name) = split_name(start.name().as_ref());
                if depth == 1 {
                    seen_root = true;
                    let root = Element {
                        name,
                        prefix,
                        attrs: attributes(&start, true)?,
                        ..Element::default()
                    };
                    check_root(&root)?;
                    continue;
                }
                if depth == 2 {
                    kept = 0;
                    keeping = match name.as_str() {
                        "KeyPackage" => {
                            packages = packages.saturating_add(1);
                            if packages > limits.max_key_packages {
                                return Err(PskcError::TooManyKeyPackages {
                                    max: limits.max_key_packages,
                                });
                            }
                            if context.is_none() {
                                context = Some(Context::new(&header, key)?);
                            }
                            true
                        }
                        "EncryptionKey" | "MACMethod" => {
                            let field = if name == "MACMethod" {
                                "MACMethod"
                            } else {
                                "EncryptionKey"
                            };
                            let twice = match field {
                                "MACMethod" => header.mac_method.is_some(),
                                _ => header.encryption_key.is_some(),
                            };
                            // RFC 6030's schema: at most one of each,
                            // before the key packages.
                            if twice || context.is_some() {
                                return Err(PskcError::Invalid { package: 0, field });
                            }
                            true
                        }
                        _ => false,
                    };
                }
                if keeping {
                    kept = kept.saturating_add(1);
                    if kept > MAX_KEPT_ELEMENTS {
                        return Err(xml_error(format!(
                            "a key package has more than {MAX_KEPT_ELEMENTS} elements"
                        )));
                    }
                    stack.push(Element {
                        name,
                        prefix,
                        attrs: attributes(&start, true)?,
                        ..Element::default()
                    });
                } else {
                    attributes(&start, false)?;
                }
            }
            Event::End(_) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| xml_error("unexpected end tag"))?;
                if depth == 0 || !keeping {
                    continue;
                }
                let done = stack.pop().ok_or_else(|| xml_error("unexpected end tag"))?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(done);
                    continue;
                }
                keeping = false;
                match done.name.as_str() {
                    "KeyPackage" => {
                        let ctx = match context.take() {
                            Some(c) => c,
                            None => Context::new(&header, key)?,
                        };
                        let package = read_package(&done, packages, &ctx);
                        context = Some(ctx);
                        sink(packages, package?)?;
                    }
                    "MACMethod" => header.mac_method = Some(done),
                    _ => header.encryption_key = Some(done),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                if let (true, Some(e)) = (keeping, stack.last_mut()) {
                    e.text.push_str(&content);
                } else if depth == 0 && !content.trim().is_empty() {
                    return Err(xml_error("text outside the root element"));
                }
            }
            Event::CData(c) => {
                if depth == 0 {
                    return Err(xml_error("text outside the root element"));
                }
                if let (true, Some(e)) = (keeping, stack.last_mut()) {
                    e.text.push_str(&c.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(xml_error)? {
                    Some(c) => c,
                    None => match r.into_inner().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return Err(xml_error("unknown entity reference")),
                    },
                };
                if depth == 0 {
                    return Err(xml_error("text outside the root element"));
                }
                if let (true, Some(e)) = (keeping, stack.last_mut()) {
                    e.text.push(resolved);
                }
            }
            Event::DocType(_) => {
                return Err(xml_error("DOCTYPE declarations are not accepted"));
            }
            Event::Eof => break,
            Event::Empty(_) | Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if depth != 0 {
        return Err(xml_error("the file ends inside an element"));
    }
    if !seen_root {
        return Err(xml_error("no root element"));
    }
    if context.is_none() {
        // No key package: the header is still checked (a key is required,
        // the methods supported).
        Context::new(&header, key)?;
    }
    Ok(())
}
