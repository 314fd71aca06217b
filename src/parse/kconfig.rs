//! Kernel configuration files (`.config`, /boot/config-*, /proc/config.gz once inflated) and the
//! module lists of a kernel (modules.builtin, modules.dep, /proc/modules).
//!
//! Lines are anchored and exact (`CONFIG_X=y`), unlike check-config.sh's unanchored
//! `zgrep "CONFIG_X=[y|m]"`, which also matches `CONFIG_X_Y=y` and a literal `|`.

use std::collections::{HashMap, HashSet};
use std::io::Read;

/// What a configuration says of one option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `=y`
    Builtin,
    /// `=m`
    Module,
    /// `# CONFIG_X is not set` (or a hand-edited `=n`): the option exists and is off.
    NotSet,
    /// A string or number (`CONFIG_HZ=250`).
    Value(String),
}

/// A parsed kernel configuration.
#[derive(Debug, Clone, Default)]
pub struct KernelConfig {
    settings: HashMap<String, Setting>,
    /// The release in the header (`# Linux/x86 6.1.0-25-amd64 Kernel Configuration`).
    pub release: Option<String>,
    /// The architecture in the header (`x86`, `arm64`).
    pub arch: Option<String>,
}

impl KernelConfig {
    /// The setting of `name` (without `CONFIG_`); `None` when the file does not mention it at all,
    /// which means the kernel has no such option or its dependencies are not met.
    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.settings.get(name)
    }

    /// Whether `name` is `=y` or `=m`.
    pub fn is_set(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Setting::Builtin | Setting::Module))
    }

    /// How many options the file sets or unsets.
    pub fn len(&self) -> usize {
        self.settings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.settings.is_empty()
    }
}

/// Parses a configuration. Lines that are neither settings nor the header are ignored: a
/// configuration file has nothing else that matters.
pub fn parse(text: &str) -> KernelConfig {
    let mut config = KernelConfig::default();
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("# CONFIG_") {
            if let Some(name) = rest.strip_suffix(" is not set")
                && valid_name(name)
            {
                config.settings.insert(name.to_string(), Setting::NotSet);
            }
        } else if let Some(rest) = line.strip_prefix("CONFIG_") {
            let Some((name, value)) = rest.split_once('=') else {
                continue;
            };
            if !valid_name(name) {
                continue;
            }
            let setting = match value {
                "y" => Setting::Builtin,
                "m" => Setting::Module,
                "n" => Setting::NotSet,
                v => Setting::Value(v.trim_matches('"').to_string()),
            };
            config.settings.insert(name.to_string(), setting);
        } else if config.release.is_none()
            && let Some((arch, release)) = header(line)
        {
            config.arch = Some(arch.to_string());
            config.release = Some(release.to_string());
        }
    }
    config
}

/// `# Linux/x86 6.1.0 Kernel Configuration` → ("x86", "6.1.0"); older files say
/// `# Linux kernel version: 2.6.32`.
fn header(line: &str) -> Option<(&str, &str)> {
    if let Some(rest) = line.strip_prefix("# Linux/") {
        let rest = rest.strip_suffix(" Kernel Configuration")?;
        let (arch, release) = rest.split_once(' ')?;
        return Some((arch, release.trim()));
    }
    let release = line.strip_prefix("# Linux kernel version: ")?;
    Some(("", release.trim()))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b.is_ascii_lowercase()
        })
}

/// The text of a configuration that may be gzip-compressed (/proc/config.gz), told by its magic
/// bytes rather than its name. At most `limit` bytes are inflated.
pub fn inflate(bytes: &[u8], limit: u64) -> Result<String, String> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(limit + 1)
            .read_to_end(&mut text)
            .map_err(|e| format!("not valid gzip: {e}"))?;
        if text.len() as u64 > limit {
            return Err(format!("larger than {limit} bytes once inflated"));
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    } else {
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// A module's name as the kernel compares them: `-` and `_` are the same.
pub fn module_name(name: &str) -> String {
    name.replace('-', "_")
}

/// Module names in modules.builtin or modules.dep: the file name of each path before `.ko`
/// (`kernel/fs/overlayfs/overlay.ko.zst: …` → `overlay`).
pub fn module_paths(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|line| {
            let path = line.split(':').next()?.trim();
            let file = path.rsplit('/').next()?;
            let stem = file.split(".ko").next()?;
            (!stem.is_empty() && file.contains(".ko")).then(|| module_name(stem))
        })
        .collect()
}

/// Loaded modules in /proc/modules (`overlay 151552 0 - Live 0x…`).
pub fn loaded_modules(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(module_name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "#\n# Automatically generated file; DO NOT EDIT.\n\
        # Linux/x86 5.15.0-144-generic Kernel Configuration\n#\n\
        CONFIG_CC_VERSION_TEXT=\"gcc (Ubuntu 11.4.0) 11.4.0\"\n\
        CONFIG_NAMESPACES=y\nCONFIG_OVERLAY_FS=m\n# CONFIG_AUFS_FS is not set\n\
        CONFIG_IP_PNP_DHCP=n\nCONFIG_HZ=250\nCONFIG_BROKEN LINE\n";

    #[test]
    fn settings_and_header() {
        let c = parse(SAMPLE);
        assert_eq!(c.release.as_deref(), Some("5.15.0-144-generic"));
        assert_eq!(c.arch.as_deref(), Some("x86"));
        assert_eq!(c.get("NAMESPACES"), Some(&Setting::Builtin));
        assert_eq!(c.get("OVERLAY_FS"), Some(&Setting::Module));
        assert_eq!(c.get("AUFS_FS"), Some(&Setting::NotSet));
        // Firecracker's hand-edited `=n` lines are "not set", not a value.
        assert_eq!(c.get("IP_PNP_DHCP"), Some(&Setting::NotSet));
        assert_eq!(c.get("HZ"), Some(&Setting::Value("250".into())));
        assert_eq!(c.get("BTRFS_FS"), None);
        assert!(c.is_set("OVERLAY_FS") && !c.is_set("AUFS_FS") && !c.is_set("HZ"));
        // The unanchored grep of check-config.sh would take CONFIG_NAMESPACES=y for CONFIG_NAMES.
        assert_eq!(c.get("NAMES"), None);
        assert_eq!(c.len(), 6);
    }

    #[test]
    fn old_header() {
        let c = parse("# Linux kernel version: 2.6.32\nCONFIG_SMP=y\n");
        assert_eq!(c.release.as_deref(), Some("2.6.32"));
    }

    #[test]
    fn gzip_is_told_by_its_magic() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(SAMPLE.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        assert_eq!(inflate(&bytes, 1 << 20).unwrap(), SAMPLE);
        assert_eq!(inflate(SAMPLE.as_bytes(), 1 << 20).unwrap(), SAMPLE);
        assert!(inflate(&bytes, 10).unwrap_err().contains("larger than 10"));
        assert!(inflate(&[0x1f, 0x8b, 0, 1, 2], 100).is_err());
    }

    #[test]
    fn modules() {
        let dep = "kernel/fs/overlayfs/overlay.ko.zst:\n\
                   kernel/drivers/md/dm-thin-pool.ko: kernel/drivers/md/dm-mod.ko\n\
                   kernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz\n";
        let names = module_paths(dep);
        assert!(names.contains("overlay") && names.contains("dm_thin_pool"));
        assert!(names.contains("br_netfilter") && !names.contains("bridge"));
        let loaded = loaded_modules(
            "overlay 151552 0 - Live 0xffffffffc0a00000\nnf_nat 49152 2 a,b, Live 0x0\n",
        );
        assert!(loaded.contains("overlay") && loaded.contains("nf_nat"));
    }
}
