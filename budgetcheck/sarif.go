package budgetcheck

// SARIF 2.1.0, the subset code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	} `json:"driver"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	Name             string       `json:"name"`
	ShortDescription sarifMessage `json:"shortDescription"`
	FullDescription  sarifMessage `json:"fullDescription"`
	DefaultConfig    struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region struct {
			StartLine int `json:"startLine"`
		} `json:"region"`
	} `json:"physicalLocation"`
}

func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

func toSARIF(r *Report) sarifLog {
	run := sarifRun{Results: []sarifResult{}}
	run.Tool.Driver.Name = "budgetcheck"
	run.Tool.Driver.InformationURI = "https://github.com/pgfleet/pgfleet/tree/main/budgetcheck"
	ruleIndex := map[string]int{}
	for i, c := range Checks {
		rule := sarifRule{ID: c.ID, Name: c.Name, ShortDescription: sarifMessage{c.Name}, FullDescription: sarifMessage{c.Doc}}
		rule.DefaultConfig.Level = sarifLevel(c.Severity)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, rule)
		ruleIndex[c.ID] = i
	}
	for _, f := range r.Findings {
		text := f.Message
		if f.Arithmetic != "" {
			text += "\nArithmetic: " + f.Arithmetic
		}
		if f.Suggestion != "" {
			text += "\nSuggestion: " + f.Suggestion
		}
		res := sarifResult{RuleID: f.Check, RuleIndex: ruleIndex[f.Check], Level: sarifLevel(f.Severity), Message: sarifMessage{text}}
		if f.Location.File != "" && f.Location.File != "-" {
			var l sarifLocation
			l.PhysicalLocation.ArtifactLocation.URI = f.Location.File
			l.PhysicalLocation.Region.StartLine = max(1, f.Location.Line)
			if file, ok := syntheticFile(f.Location.File); ok {
				l.PhysicalLocation.ArtifactLocation.URI = file
				l.PhysicalLocation.Region.StartLine = 1
			}
			res.Locations = []sarifLocation{l}
		}
		run.Results = append(run.Results, res)
	}
	return sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
}
