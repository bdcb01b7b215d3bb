//! deploy/terraform read as HCL (hcl-rs, no terraform binary), for the tests that hold it against the
//! manifest and the pipelines: the blocks of a directory's `.tf` files, their attributes, an environment's
//! `.tfvars`, and expressions evaluated the way Terraform would for the few references these files use
//! (`var.*`, `local.*`, and the attributes of resources named in [`Scope`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::eval::{Context, Evaluate};
use hcl::{Block, Body, Expression};
use test_support::repo_root;

/// deploy/terraform.
pub fn dir() -> PathBuf {
    repo_root().join("deploy/terraform")
}

/// deploy/terraform/modules/service.
pub fn module_dir() -> PathBuf {
    dir().join("modules/service")
}

/// The `.tf` files of `dir`, sorted.
pub fn tf_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    files.sort();
    files
}

/// Every block of the `.tf` files of `dir`.
pub fn blocks(dir: &Path) -> Vec<Block> {
    tf_files(dir)
        .iter()
        .flat_map(|p| {
            let body: Body = hcl::parse(&std::fs::read_to_string(p).unwrap())
                .unwrap_or_else(|e| panic!("{}: not HCL: {e}", p.display()));
            body.into_blocks().collect::<Vec<_>>()
        })
        .collect()
}

/// A block's labels (`resource "kind" "name"`: `["kind", "name"]`).
pub fn labels(block: &Block) -> Vec<&str> {
    block.labels.iter().map(hcl::BlockLabel::as_str).collect()
}

/// A block's attribute.
pub fn attr<'a>(block: &'a Block, key: &str) -> Option<&'a Expression> {
    block.body.attributes().find(|a| a.key.as_str() == key).map(|a| &a.expr)
}

/// The `resource` blocks of one kind.
pub fn resources<'a>(blocks: &'a [Block], kind: &str) -> Vec<&'a Block> {
    blocks
        .iter()
        .filter(|b| b.identifier.as_str() == "resource" && labels(b).first() == Some(&kind))
        .collect()
}

/// A binding (`google_*_iam_member`) with this role and member whose target expression mentions `target`,
/// as written (not evaluated).
pub fn has_binding(blocks: &[Block], kind: &str, target_attr: &str, target: &str, role: &str, member: &str) -> bool {
    resources(blocks, kind).iter().any(|b| {
        let text = |k: &str| attr(b, k).map(ToString::to_string).unwrap_or_default();
        text(target_attr).contains(target) && text("role").contains(role) && text("member").contains(member)
    })
}

/// What an expression may refer to: `var` (string variables), `local`, and resources' attributes
/// (`google_secret_manager_secret.platform["x"].id`), each an object of the names Terraform would have.
#[derive(Default, Clone)]
pub struct Scope {
    objects: BTreeMap<String, hcl::Value>,
}

impl Scope {
    /// A scope with `var.<name>` bound to `vars`.
    pub fn with_vars(vars: &BTreeMap<String, String>) -> Self {
        let mut scope = Self::default();
        scope.set("var", strings(vars));
        scope
    }

    /// Binds the top-level name `name` (`local`, `google_project_iam_custom_role`) to `value`.
    pub fn set(&mut self, name: &str, value: hcl::Value) {
        self.objects.insert(name.to_owned(), value);
    }

    /// `expr` evaluated here, or why not.
    pub fn try_eval(&self, expr: &Expression) -> Result<hcl::Value, String> {
        let mut ctx = Context::new();
        for (name, value) in &self.objects {
            ctx.declare_var(name.clone(), value.clone());
        }
        expr.evaluate(&ctx).map_err(|e| e.to_string())
    }

    /// `expr` evaluated here, as a string.
    ///
    /// # Panics
    /// When it does not evaluate (a reference the scope lacks) or is not a string.
    pub fn string(&self, expr: &Expression) -> String {
        match self.try_eval(expr).unwrap_or_else(|e| panic!("evaluating {expr}: {e}")) {
            hcl::Value::String(s) => s,
            other => panic!("{expr} is {other:?}, not a string"),
        }
    }
}

/// An HCL object of string values.
pub fn strings(values: &BTreeMap<String, String>) -> hcl::Value {
    hcl::Value::Object(
        values
            .iter()
            .map(|(k, v)| (k.clone(), hcl::Value::from(v.clone())))
            .collect(),
    )
}

/// `expr` evaluated with `var.<name>` bound to `vars` (a template such as "pcc-admin-${var.environment}-db").
pub fn eval(expr: &Expression, vars: &BTreeMap<String, String>) -> String {
    Scope::with_vars(vars).string(expr)
}

/// An environment's `.tfvars` as HCL.
pub fn tfvars_body(env: &str) -> Body {
    let path = dir().join("environments").join(format!("{env}.tfvars"));
    hcl::parse(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The string variables of an environment's `.tfvars`.
pub fn tfvars(env: &str) -> BTreeMap<String, String> {
    tfvars_body(env)
        .attributes()
        .filter(|a| !matches!(a.expr, Expression::Array(_)))
        .map(|a| (a.key.to_string(), eval(&a.expr, &BTreeMap::new())))
        .collect()
}

/// The root's `local.platform_secrets` (`toset([...])`) evaluated with `vars`.
pub fn platform_secrets(root: &[Block], vars: &BTreeMap<String, String>) -> Vec<String> {
    let locals = root.iter().find(|b| b.identifier.as_str() == "locals").expect("locals");
    let Some(Expression::FuncCall(call)) = attr(locals, "platform_secrets") else {
        panic!("platform_secrets = toset([...])")
    };
    let Expression::Array(items) = &call.args[0] else {
        panic!("toset of a list")
    };
    items.iter().map(|i| eval(i, vars)).collect()
}

/// The `module` blocks of the service module: service name -> the block.
pub fn service_modules(root: &[Block]) -> BTreeMap<String, &Block> {
    root.iter()
        .filter(|b| b.identifier.as_str() == "module")
        .filter(|b| attr(b, "source").map(ToString::to_string).as_deref() == Some("\"./modules/service\""))
        .map(|b| (eval(attr(b, "service").unwrap(), &BTreeMap::new()), b))
        .collect()
}
