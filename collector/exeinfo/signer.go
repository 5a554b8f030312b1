package exeinfo

import "github.com/smallstep/pkcs7"

// pkcs7Signer names the signer of a PKCS#7 / CMS SignedData structure (DER, or BER as Apple's
// codesign writes it): the subject common name, else the first organization, of the certificate
// its only SignerInfo points to by issuer and serial number. Nothing is verified.
func pkcs7Signer(der []byte) (string, bool) {
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return "", false
	}
	c := p7.GetOnlySigner()
	if c == nil {
		return "", false
	}
	name := c.Subject.CommonName
	if name == "" && len(c.Subject.Organization) > 0 {
		name = c.Subject.Organization[0]
	}
	name = clean(name)
	return name, name != ""
}
