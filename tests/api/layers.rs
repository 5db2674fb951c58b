//! The layers, checked: every `crate::…` path in `src/` (in `use` items and in code) is read
//! with `syn`, and the test fails when one points up a layer or when modules refer to each
//! other in a cycle.
//!
//! Layers, bottom up (a module may use its own layer and the ones below):
//! 1. domain types: what the bot talks about, no I/O of its own beyond the place sources;
//! 2. state owners: the database, the cache, the actors, the Telegram client, users' memory,
//!    each knowing nothing of the pipeline that uses it;
//! 3. the pipeline that composes them: stories and tours;
//! 4. ingress: the webhook, polling, lanes and handlers;
//! 5. wiring: start-up, the binary's tools (the simulator).
//!
//! Cycles: at every level of the tree, sibling modules (each taken with everything below it)
//! must refer to each other without a cycle. A module and its own children may refer to each
//! other: that is how a file grown past ~300 lines becomes a folder.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use syn::visit::Visit;

/// Top-level modules by layer, bottom first.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "domain",
        &[
            "allocator",
            "config",
            "geo",
            "i18n",
            "payments",
            "places",
            "prompts",
            "stats",
            "story",
            "telemetry",
            "tour",
        ],
    ),
    ("state", &["db", "cache", "actors", "telegram", "users"]),
    ("pipeline", &["facts"]),
    ("ingress", &["handlers"]),
    ("wiring", &["startup", "simulate"]),
];

/// A module path inside the crate, e.g. `["handlers", "router"]`.
type ModPath = Vec<String>;

/// Every `.rs` file under `src/` with its module path (`lib.rs` and `main.rs` are the root).
fn modules() -> Vec<(ModPath, PathBuf)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut folders = vec![src.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push((module_path(&src, &path), path));
            }
        }
    }
    found.sort();
    found
}

fn module_path(src: &Path, file: &Path) -> ModPath {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: ModPath = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The `crate::…` and `super::…` paths a file refers to, resolved to module paths (as long
/// as they name modules we know; the item at the end is dropped by the caller).
struct Paths<'a> {
    module: &'a ModPath,
    found: Vec<ModPath>,
}

impl Paths<'_> {
    fn resolve(&mut self, segments: &[String]) {
        let mut resolved: ModPath = match segments.first().map(String::as_str) {
            Some("crate") => Vec::new(),
            Some("super") => {
                let mut base = self.module.clone();
                let mut rest = segments;
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                self.found.push(base);
                return;
            }
            _ => return,
        };
        resolved.extend(segments[1..].iter().cloned());
        self.found.push(resolved);
    }
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.resolve(&segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut trees = vec![(Vec::new(), &item.tree)];
        while let Some((prefix, tree)) = trees.pop() {
            match tree {
                syn::UseTree::Path(path) => {
                    let mut next = prefix.clone();
                    next.push(path.ident.to_string());
                    trees.push((next, &path.tree));
                }
                syn::UseTree::Name(name) => {
                    let mut full = prefix.clone();
                    full.push(name.ident.to_string());
                    self.resolve(&full);
                }
                syn::UseTree::Rename(rename) => {
                    let mut full = prefix.clone();
                    full.push(rename.ident.to_string());
                    self.resolve(&full);
                }
                syn::UseTree::Glob(_) => self.resolve(&prefix),
                syn::UseTree::Group(group) => {
                    for tree in &group.items {
                        trees.push((prefix.clone(), tree));
                    }
                }
            }
        }
    }
}

/// Module → the modules it refers to (the longest known module prefix of each path).
fn graph() -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let modules = modules();
    let known: BTreeSet<ModPath> = modules.iter().map(|(path, _)| path.clone()).collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let source = std::fs::read_to_string(file).unwrap();
        let syntax = syn::parse_file(&source).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        let mut paths = Paths {
            module,
            found: Vec::new(),
        };
        paths.visit_file(&syntax);
        let targets: BTreeSet<ModPath> = paths
            .found
            .into_iter()
            .filter_map(|path| {
                (1..=path.len())
                    .rev()
                    .map(|n| path[..n].to_vec())
                    .find(|prefix| known.contains(prefix))
            })
            .filter(|target| target != module && !target.is_empty())
            .collect();
        graph.insert(module.clone(), targets);
    }
    graph
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&top))
}

fn show(path: &ModPath) -> String {
    format!("crate::{}", path.join("::"))
}

#[test]
fn imports_never_point_up_a_layer() {
    let mut wrong = Vec::new();
    for (module, targets) in graph() {
        let Some(top) = module.first() else { continue };
        let Some(from) = layer_of(top) else {
            wrong.push(format!("{} is in no layer", show(&module)));
            continue;
        };
        for target in targets {
            let to = layer_of(&target[0]);
            if to.is_none_or(|to| to > from) {
                let (layer, _) = LAYERS[from];
                wrong.push(format!(
                    "{} ({layer}) uses {} ({})",
                    show(&module),
                    show(&target),
                    to.map_or("no layer", |to| LAYERS[to].0)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports up a layer:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_modules_refer_to_each_other_in_a_cycle() {
    let graph = graph();
    // At each parent, an edge between two children: from the child holding the user to the
    // child holding what it uses.
    let mut siblings: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (module, targets) in &graph {
        for target in targets {
            let common = module
                .iter()
                .zip(target)
                .take_while(|(a, b)| a == b)
                .count();
            if common == module.len() || common == target.len() {
                continue; // a module and its own descendants
            }
            let parent = module[..common].to_vec();
            siblings
                .entry(parent)
                .or_default()
                .entry(module[common].clone())
                .or_default()
                .insert(target[common].clone());
        }
    }
    let mut cycles = Vec::new();
    for (parent, edges) in &siblings {
        let prefix = if parent.is_empty() {
            "crate".to_owned()
        } else {
            show(parent)
        };
        for (from, tos) in edges {
            for to in tos {
                if reaches(edges, to, from) {
                    cycles.push(format!("{prefix}: {from} -> {to} (and {to} leads back)"));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

/// Whether `from` leads to `to` along `edges`.
fn reaches(edges: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut next = vec![from];
    while let Some(node) = next.pop() {
        if node == to {
            return true;
        }
        if seen.insert(node) {
            next.extend(edges.get(node).into_iter().flatten().map(String::as_str));
        }
    }
    false
}
