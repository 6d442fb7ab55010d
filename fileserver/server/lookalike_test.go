package server_test

import (
	"strings"
	"testing"
)

// Names that display like an existing one are refused: white space at
// either end or a dot at the end (400 bad_path), and a name confusable
// with another in the same folder, by letter case or by look-alike
// characters (409 confusable, naming the file it looks like). Folders
// that uploads create are held to the same rules, and so are private
// spaces.
func TestLookAlikeUploads(t *testing.T) {
	ts := start(t, nil)
	resp, b := ts.do("alice", "PUT", "/files/report.pdf", strings.NewReader("the real one"))
	want(t, resp, b, 201, "")
	resp, b = ts.do("alice", "PUT", "/files/docs/a.txt", strings.NewReader("a"))
	want(t, resp, b, 201, "")

	for _, c := range []struct{ path, says string }{
		{"report.pdf%20", "ends with a space"},
		{"%20report.pdf", "begins with a space"},
		{"report.pdf%C2%A0", "ends with a no-break space (U+00A0)"},
		{"report.pdf%E3%80%80", "ends with an ideographic space (U+3000)"},
		{"report.pdf.", "ends with a dot"},
		{"docs%20/b.txt", "ends with a space"},
		{"new./b.txt", "ends with a dot"},
	} {
		resp, b = ts.do("mallory", "PUT", "/files/"+c.path, strings.NewReader("fake"))
		want(t, resp, b, 400, "bad_path")
		if !strings.Contains(string(b), c.says) {
			t.Errorf("PUT %s: %s, want it to say %q", c.path, b, c.says)
		}
	}
	for _, p := range []string{"report.pdf ", "report.pdf\u00A0", "report.pdf\u3000", "report.pdf."} {
		resp, b = ts.do("mallory", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "4",
			"Upload-Metadata", "path "+b64(p))
		want(t, resp, b, 400, "bad_path")
	}

	for _, c := range []struct{ path, existing string }{
		{"r%D0%B5port.pdf", "report.pdf"},           // Cyrillic е
		{"Report.pdf", "report.pdf"},                // letter case
		{"Report.pdf?overwrite=1", "report.pdf"},    // overwrite replaces only the same name
		{"REPORT.PDF", "report.pdf"},                //
		{"Docs/b.txt", "docs"},                      // a new folder like an existing one
		{"d%D0%BEcs/b.txt", "docs"},                 // Cyrillic о
		{"docs/A.txt", "a.txt"},                     // inside an existing folder
		{"r%D0%B5port.pdf/inner.txt", "report.pdf"}, // a new folder like a file
	} {
		resp, b = ts.do("mallory", "PUT", "/files/"+c.path, strings.NewReader("fake"))
		want(t, resp, b, 409, "confusable")
		if !strings.Contains(string(b), `\"`+c.existing+`\"`) {
			t.Errorf("PUT %s: %s does not name %q", c.path, b, c.existing)
		}
	}
	resp, b = ts.do("mallory", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "4",
		"Upload-Metadata", "path "+b64("r\u0435port.pdf"))
	want(t, resp, b, 409, "confusable")

	// Names that merely resemble each other are fine, and so is the
	// same name, which is a plain conflict or an overwrite.
	for _, p := range []string{"report2.pdf", "report.pdf.bak", "docs/b.txt", "a%20b.txt", "docs2/a.txt"} {
		resp, b = ts.do("alice", "PUT", "/files/"+p, strings.NewReader("ok"))
		want(t, resp, b, 201, "")
	}
	resp, b = ts.do("alice", "PUT", "/files/report.pdf", strings.NewReader("again"))
	want(t, resp, b, 409, "exists")
	resp, b = ts.do("alice", "PUT", "/files/report.pdf?overwrite=1", strings.NewReader("v2"))
	want(t, resp, b, 200, "")

	// A file copied in by hand under a decomposed name: the NFC name
	// that displays the same is refused.
	ts.drop("cafe\u0301.txt", []byte("by hand"))
	resp, b = ts.do("alice", "PUT", "/files/caf%C3%A9.txt", strings.NewReader("nfc"))
	want(t, resp, b, 409, "confusable")

	// The same in a private space, which is compared with its own names.
	resp, b = ts.do("alice", "PUT", "/files/payslip.pdf?with=bob", strings.NewReader("alice's"))
	want(t, resp, b, 201, "")
	resp, b = ts.do("bob", "PUT", "/files/Payslip.pdf?with=alice", strings.NewReader("bob's"))
	want(t, resp, b, 409, "confusable")
	resp, b = ts.do("bob", "PUT", "/files/payslip.pdf%20?with=alice", strings.NewReader("bob's"))
	want(t, resp, b, 400, "bad_path")
	resp, b = ts.do("bob", "PUT", "/files/Report.pdf?with=alice", strings.NewReader("not in the shared folder"))
	want(t, resp, b, 201, "")

	if got := names(ts.list("alice", "")); got != "docs,docs2,a b.txt,cafe\u0301.txt,report.pdf,report.pdf.bak,report2.pdf" {
		t.Errorf("listing %q", got)
	}
	assertStagingEmpty(t, ts)
}
