package store

import (
	"context"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
)

// RuleFile is a custom Sigma rule file the admins wrote or imported: it may hold several
// documents (a rule and its correlation, say). Name is unique and is the file's name in the
// policy bundle.
type RuleFile struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// RuleChange is one change to the custom rules; exactly one of its fields is set, or several
// Put for an import.
type RuleChange struct {
	// Put creates rule files, or replaces the content of those whose Name exists (by Name when
	// ID is empty, else by ID: a rename).
	Put []RuleFile
	// Delete removes rule files by id.
	Delete []string
	// Disable and Enable turn built-in rules (by rule id) off and on again.
	Disable, Enable []string
	// Actor is who made the change (kept on the rule and the policy version).
	Actor string
	// Comment describes the change in the policy version.
	Comment string
}

// PolicyVersion is one published, signed policy bundle.
type PolicyVersion struct {
	Version   int64       `json:"version"`
	CreatedAt time.Time   `json:"created_at"`
	CreatedBy string      `json:"created_by,omitempty"`
	Comment   string      `json:"comment,omitempty"`
	Bundle    wire.Bundle `json:"bundle"`
}

// BundleBuilder makes and signs the bundle of a new version from the rule files and disabled
// built-in rules that the change leaves, inside the change's transaction: an error aborts the
// change (a rule that does not compile with the others, say).
type BundleBuilder func(version int64, created time.Time, rules []RuleFile, disabled []string) (wire.Bundle, error)

// Rules holds the custom rule files.
type Rules interface {
	// ListRuleFiles returns every custom rule file, by name.
	ListRuleFiles(ctx context.Context) ([]RuleFile, error)
	// RuleFile returns one rule file by id.
	RuleFile(ctx context.Context, id string) (RuleFile, error)
	// DisabledBuiltins returns the ids of the built-in rules turned off, sorted.
	DisabledBuiltins(ctx context.Context) ([]string, error)
	// ChangeRules applies the change and publishes a new policy version built by build, in one
	// transaction; the stored rule files and the version are returned.
	ChangeRules(ctx context.Context, c RuleChange, build BundleBuilder) ([]RuleFile, PolicyVersion, error)
}

// Policies reads the published policy versions.
type Policies interface {
	// CurrentPolicy returns the newest version (ErrNotFound before the first).
	CurrentPolicy(ctx context.Context) (PolicyVersion, error)
	// CurrentPolicyVersion returns the newest version number, 0 before the first.
	CurrentPolicyVersion(ctx context.Context) (int64, error)
	// PolicyVersion returns one version.
	PolicyVersion(ctx context.Context, version int64) (PolicyVersion, error)
	// ListPolicyVersions returns versions newest first, without their rules' content.
	ListPolicyVersions(ctx context.Context, p Page) ([]PolicyVersion, string, error)
}
