package inject

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// GuardImagesVariable is the variable of the guard policy (config/guard)
// that lists the sidecar images the guard admits. config/default copies the
// manager's sidecar image into it; the chart writes it from its values.
const GuardImagesVariable = "sidecarImages"

// GuardImagesExpression is the CEL list of images for GuardImagesVariable.
func GuardImagesExpression(images ...string) (string, error) {
	if len(images) == 0 {
		return "", fmt.Errorf("no sidecar image: the guard would refuse every selected pod")
	}
	quoted := make([]string, len(images))
	for i, image := range images {
		if image == "" || strings.ContainsAny(image, "'\"\\ \t\n") {
			return "", fmt.Errorf("sidecar image %q: want a reference such as registry/name:tag or registry/name@sha256:..., without quotes, backslashes or spaces", image)
		}
		quoted[i] = "'" + image + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]", nil
}

// AllowSidecarImages makes the guard policy admit exactly these sidecar
// images, as for an operator started with another --sidecar-image.
func AllowSidecarImages(p *admissionregistrationv1.ValidatingAdmissionPolicy, images ...string) error {
	expr, err := GuardImagesExpression(images...)
	if err != nil {
		return err
	}
	for i := range p.Spec.Variables {
		if p.Spec.Variables[i].Name == GuardImagesVariable {
			p.Spec.Variables[i].Expression = expr
			return nil
		}
	}
	return fmt.Errorf("ValidatingAdmissionPolicy %s has no variable %q to hold the sidecar images", p.Name, GuardImagesVariable)
}
