#include "core/ports/scm_api.h"

#include <gtest/gtest.h>

namespace eg {
namespace {

TEST(ScmApiTest, StatusParsingIsCaseInsensitive) {
  EXPECT_EQ(ParseScmCertStatus("Issued"), ScmCertStatus::kIssued);
  EXPECT_EQ(ParseScmCertStatus("ISSUED"), ScmCertStatus::kIssued);
  EXPECT_EQ(ParseScmCertStatus("approved"), ScmCertStatus::kApproved);
  EXPECT_EQ(ParseScmCertStatus("SAApproved"), ScmCertStatus::kSaApproved);
  EXPECT_EQ(ParseScmCertStatus("whatever"), ScmCertStatus::kUnknown);
}

TEST(ScmApiTest, ClassifiesDocumentedCodes) {
  auto kind = [](int64_t code) {
    return ClassifyScmError(Error(ErrorCode::kInvalidArgument, "x", code));
  };
  EXPECT_EQ(kind(-36), ScmErrorKind::kBadTerm);
  EXPECT_EQ(kind(-13), ScmErrorKind::kBadKeyType);
  EXPECT_EQ(kind(-170), ScmErrorKind::kBadKeyType);
  EXPECT_EQ(kind(-10), ScmErrorKind::kBadCsr);
  EXPECT_EQ(kind(-39), ScmErrorKind::kUnknownProfile);
  EXPECT_EQ(kind(-62), ScmErrorKind::kMissingCustomField);
  EXPECT_EQ(kind(-1010), ScmErrorKind::kNameNotAllowed);
  EXPECT_EQ(kind(-110), ScmErrorKind::kRevoked);
  EXPECT_EQ(kind(-180), ScmErrorKind::kNotRenewable);
  EXPECT_EQ(ClassifyScmError(Error(ErrorCode::kPending, "wait", 0)), ScmErrorKind::kPending);
  EXPECT_EQ(ClassifyScmError(Unavailable("down")), ScmErrorKind::kUnavailable);
}

TEST(CertTypeTest, RoundTrips) {
  for (CertType t :
       {CertType::kSsl, CertType::kClient, CertType::kDevice, CertType::kCodeSigning}) {
    EXPECT_EQ(ParseCertType(CertTypeName(t)), t);
  }
  EXPECT_FALSE(ParseCertType("tls").has_value());
}

}  // namespace
}  // namespace eg
