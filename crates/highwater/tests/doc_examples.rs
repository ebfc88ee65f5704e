//! Every public item of the library has a doc example: a code block in its
//! rustdoc, which `cargo test --doc` runs. (rustdoc's own lint for this,
//! `missing_doc_code_examples`, needs a nightly compiler.)
//!
//! The library's sources are parsed with `syn`; an item counts as public
//! when it is declared `pub` (plain, not `pub(crate)`), and so are the
//! methods of a `pub` trait. Fields and enum variants are covered by their
//! type's example, trait impls by the trait's. The sealed handle trait and
//! the type it names are `pub` only to be unnameable: they are skipped.

use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::{Attribute, ImplItem, Item, TraitItem, Visibility};

/// Modules whose `pub` items are not part of the public API.
const SEALED_MODULES: &[&str] = &["sealed"];
/// `pub` for the sealed trait's sake (see `stream/side.rs`).
const SEALED_ITEMS: &[&str] = &["Core"];

fn has_example(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .any(|a| a.to_token_stream().to_string().contains("```"))
}

fn is_cfg_test(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.to_token_stream().to_string().contains("test"))
}

fn is_pub(v: &Visibility) -> bool {
    matches!(v, Visibility::Public(_))
}

struct Walk {
    file: String,
    missing: Vec<String>,
}

impl Walk {
    fn need(&mut self, attrs: &[Attribute], what: String) {
        if !has_example(attrs) {
            self.missing.push(format!("{}: {what}", self.file));
        }
    }

    fn items(&mut self, items: &[Item], path: &str) {
        for item in items {
            self.item(item, path);
        }
    }

    fn item(&mut self, item: &Item, path: &str) {
        match item {
            Item::Fn(f) if is_pub(&f.vis) => {
                self.need(&f.attrs, format!("fn {path}{}", f.sig.ident))
            }
            Item::Struct(s)
                if is_pub(&s.vis) && !SEALED_ITEMS.contains(&s.ident.to_string().as_str()) =>
            {
                self.need(&s.attrs, format!("struct {path}{}", s.ident))
            }
            Item::Enum(e) if is_pub(&e.vis) => {
                self.need(&e.attrs, format!("enum {path}{}", e.ident))
            }
            Item::Type(t) if is_pub(&t.vis) => {
                self.need(&t.attrs, format!("type {path}{}", t.ident))
            }
            Item::Const(c) if is_pub(&c.vis) => {
                self.need(&c.attrs, format!("const {path}{}", c.ident))
            }
            Item::Static(s) if is_pub(&s.vis) => {
                self.need(&s.attrs, format!("static {path}{}", s.ident))
            }
            Item::Trait(t) if is_pub(&t.vis) => {
                self.need(&t.attrs, format!("trait {path}{}", t.ident));
                for ti in &t.items {
                    match ti {
                        TraitItem::Fn(f) => {
                            self.need(&f.attrs, format!("fn {path}{}::{}", t.ident, f.sig.ident))
                        }
                        TraitItem::Const(c) => {
                            self.need(&c.attrs, format!("const {path}{}::{}", t.ident, c.ident))
                        }
                        _ => {}
                    }
                }
            }
            Item::Impl(i) if i.trait_.is_none() && !is_cfg_test(&i.attrs) => {
                let ty = i.self_ty.to_token_stream().to_string().replace(' ', "");
                if SEALED_ITEMS.iter().any(|s| ty.starts_with(s)) {
                    return;
                }
                for ii in &i.items {
                    match ii {
                        ImplItem::Fn(f) if is_pub(&f.vis) => {
                            self.need(&f.attrs, format!("fn {path}{ty}::{}", f.sig.ident))
                        }
                        ImplItem::Const(c) if is_pub(&c.vis) => {
                            self.need(&c.attrs, format!("const {path}{ty}::{}", c.ident))
                        }
                        _ => {}
                    }
                }
            }
            Item::Mod(m) if !is_cfg_test(&m.attrs) => {
                let name = m.ident.to_string();
                if SEALED_MODULES.contains(&name.as_str()) {
                    return;
                }
                if let Some((_, items)) = &m.content {
                    self.items(items, &format!("{path}{name}::"));
                }
            }
            _ => {}
        }
    }
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("the library's src folder")
        .map(|e| e.expect("a readable entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs")
            && p.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(p);
        }
    }
}

#[test]
fn every_public_item_has_a_doc_example() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "found the sources");
    let mut walk = Walk {
        file: String::new(),
        missing: Vec::new(),
    };
    for f in &files {
        let text = std::fs::read_to_string(f).expect("a source file");
        let parsed = syn::parse_file(&text).expect("the source parses");
        walk.file = f
            .strip_prefix(&src)
            .expect("under src")
            .display()
            .to_string();
        walk.items(&parsed.items, "");
    }
    assert!(
        walk.missing.is_empty(),
        "{} public items without a doc example:\n{}",
        walk.missing.len(),
        walk.missing.join("\n")
    );
}
