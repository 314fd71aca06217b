//! os-release(5) of the examined system: which distribution, for fix instructions and for the
//! report header. Read once; three places used to parse it each their own way.

use crate::host::Host;

/// The distribution families whose commands differ in fix instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Debian,
    RedHat,
    Arch,
    Alpine,
    Suse,
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID`, lower case (`debian`, `ubuntu`, `rhel`).
    pub id: String,
    /// `ID_LIKE`, split on spaces.
    pub id_like: Vec<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
}

impl OsRelease {
    pub(super) fn read(host: &Host) -> OsRelease {
        host.read_text("/etc/os-release")
            .or_else(|_| host.read_text("/usr/lib/os-release"))
            .map(|t| OsRelease::parse(&t))
            .unwrap_or_default()
    }

    /// Parses `KEY=value` lines; values may be quoted. Unknown keys and junk lines are ignored.
    pub fn parse(text: &str) -> OsRelease {
        let mut os = OsRelease::default();
        for line in text.lines() {
            let Some((key, value)) = line.trim().split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches(['"', '\'']).to_string();
            match key {
                "ID" => os.id = value.to_lowercase(),
                "ID_LIKE" => os.id_like = value.split_whitespace().map(str::to_lowercase).collect(),
                "VERSION_ID" => os.version_id = Some(value),
                "PRETTY_NAME" => os.pretty_name = Some(value),
                _ => {}
            }
        }
        os
    }

    /// The family by `ID`, then by `ID_LIKE` (Rocky says `ID_LIKE="rhel centos fedora"`).
    pub fn family(&self) -> Family {
        std::iter::once(&self.id)
            .chain(&self.id_like)
            .find_map(|id| match id.as_str() {
                "debian" | "ubuntu" => Some(Family::Debian),
                "rhel" | "fedora" | "centos" | "amzn" => Some(Family::RedHat),
                "arch" => Some(Family::Arch),
                "alpine" => Some(Family::Alpine),
                "suse" | "opensuse" | "sles" => Some(Family::Suse),
                _ => None,
            })
            .unwrap_or(Family::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_by_id_then_id_like() {
        let rocky = OsRelease::parse(
            "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n",
        );
        assert_eq!(rocky.family(), Family::RedHat);
        assert_eq!(rocky.version_id.as_deref(), Some("9.3"));
        let mint = OsRelease::parse("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n");
        assert_eq!(mint.family(), Family::Debian);
        assert_eq!(OsRelease::parse("ID=nixos\n").family(), Family::Other);
        // A user named "debian" elsewhere in the file must not make it Debian.
        assert_eq!(
            OsRelease::parse("ID=alpine\nHOME_URL=https://debian.example/\n").family(),
            Family::Alpine
        );
        assert_eq!(OsRelease::parse("\0\u{1}garbage").family(), Family::Other);
    }
}
