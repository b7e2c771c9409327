//! What each claim means, in English and Korean. Names are MAA's (guest `azurevm` tokens, with the
//! TEE's claims under `x-ms-isolation-tee`, and platform `sevsnpvm`/`tdxvm` tokens), which the offline
//! verifier uses too.

/// `(claim name, English, Korean)`, by exact name.
pub const MEANINGS: &[(&str, &str, &str)] = &[
    // The token itself
    (
        "iss",
        "issuer: the attestation service that signed the token (the MAA endpoint)",
        "발급자: 토큰에 서명한 어테스테이션 서비스 (MAA 엔드포인트 URL)",
    ),
    ("iat", "issued at (Unix time)", "발급 시각 (UNIX timestamp)"),
    ("nbf", "not valid before (Unix time)", "유효 시작 시각 (UNIX timestamp)"),
    ("exp", "expires at (Unix time)", "만료 시각 (UNIX timestamp)"),
    ("jti", "unique id of this token", "이 토큰의 고유 ID"),
    ("x-ms-ver", "version of the token's claim format", "토큰 클레임 형식의 버전"),
    (
        "x-ms-policy-hash",
        "hash of the attestation policy MAA evaluated",
        "MAA가 평가한 어테스테이션 정책의 해시",
    ),
    (
        "eat_profile",
        "the Entity Attestation Token profile the claims follow",
        "클레임이 따르는 EAT (Entity Attestation Token) 프로파일",
    ),
    (
        "dbgstat",
        "debug status of the platform (EAT): disabled or enabled",
        "플랫폼 디버그 상태 (EAT): 비활성 또는 활성",
    ),
    ("intuse", "intended use of the token (EAT), e.g. generic", "토큰의 용도 (EAT), 예: generic"),
    (
        "x-ms-runtime",
        "data the VM supplied and the TEE bound: its keys, VM configuration, nonce",
        "VM이 제공하고 TEE가 바인딩한 데이터: 키, VM 구성, nonce",
    ),
    (
        "x-ms-attestation-type",
        "attestation type: azurevm = an Azure confidential VM guest; sevsnpvm / tdxvm = the TEE itself",
        "어테스테이션 유형: azurevm = Azure Confidential VM 게스트, sevsnpvm / tdxvm = TEE 자체",
    ),
    (
        "x-ms-compliance-status",
        "azure-compliant-cvm when the TEE runs Azure's approved paravisor and firmware",
        "Azure가 승인한 paravisor와 펌웨어로 실행되면 azure-compliant-cvm",
    ),
    ("secureboot", "UEFI Secure Boot was on during boot", "부팅 시 UEFI Secure Boot 활성 여부"),
    (
        "attester_tcb_status",
        "Intel's rating of the platform's firmware: UpToDate, OutOfDate, …",
        "플랫폼 펌웨어에 대한 Intel의 TCB 평가: UpToDate, OutOfDate 등",
    ),
    // The VM (Azure guest attestation)
    ("x-ms-azurevm-vmid", "unique id of this VM instance", "VM 인스턴스 고유 ID"),
    (
        "x-ms-azurevm-attestation-protocol-ver",
        "version of the guest attestation protocol",
        "게스트 어테스테이션 프로토콜 버전",
    ),
    (
        "x-ms-azurevm-attested-pcrs",
        "the vTPM PCRs whose values the quote covers",
        "쿼트가 포함하는 vTPM PCR 목록",
    ),
    ("x-ms-azurevm-is-windows", "the guest OS is Windows", "게스트 OS가 Windows인지 여부"),
    ("x-ms-azurevm-ostype", "guest OS type", "게스트 OS 종류"),
    ("x-ms-azurevm-osdistro", "guest OS distribution", "게스트 OS 배포판"),
    ("x-ms-azurevm-osbuild", "guest OS build", "게스트 OS 빌드"),
    ("x-ms-azurevm-osversion-major", "guest OS major version", "게스트 OS 주 버전"),
    ("x-ms-azurevm-osversion-minor", "guest OS minor version", "게스트 OS 부 버전"),
    (
        "x-ms-azurevm-bootdebug-enabled",
        "Windows boot debugging was on (from the boot log)",
        "Windows 부트 디버깅 활성 여부 (부트 로그 기준)",
    ),
    (
        "x-ms-azurevm-kerneldebug-enabled",
        "Windows kernel debugging was on (from the boot log)",
        "Windows 커널 디버깅 활성 여부 (부트 로그 기준)",
    ),
    (
        "x-ms-azurevm-hypervisordebug-enabled",
        "hypervisor debugging was on (from the boot log)",
        "하이퍼바이저 디버깅 활성 여부 (부트 로그 기준)",
    ),
    (
        "x-ms-azurevm-testsigning-enabled",
        "test-signed code was allowed to load",
        "테스트 서명 코드 로드 허용 여부",
    ),
    (
        "x-ms-azurevm-flightsigning-enabled",
        "flight-signed (pre-release) code was allowed to load",
        "플라이트 서명(사전 릴리스) 코드 로드 허용 여부",
    ),
    ("x-ms-azurevm-signingdisabled", "code-signing checks were disabled", "코드 서명 검사 비활성 여부"),
    ("x-ms-azurevm-debuggersdisabled", "debuggers were disabled", "디버거 비활성 여부"),
    (
        "x-ms-azurevm-elam-enabled",
        "Early Launch Anti-Malware was on",
        "ELAM (Early Launch Anti-Malware) 활성 여부",
    ),
    (
        "x-ms-azurevm-hvci-policy",
        "Hypervisor-protected Code Integrity policy (0 = off)",
        "HVCI (하이퍼바이저 보호 코드 무결성) 정책 (0 = 꺼짐)",
    ),
    (
        "x-ms-azurevm-dbvalidated",
        "the Secure Boot allowed-signatures database (db) was validated",
        "Secure Boot 허용 서명 데이터베이스(db) 검증 여부",
    ),
    (
        "x-ms-azurevm-dbxvalidated",
        "the Secure Boot revoked-signatures database (dbx) was validated",
        "Secure Boot 폐기 서명 데이터베이스(dbx) 검증 여부",
    ),
    (
        "x-ms-azurevm-default-securebootkeysvalidated",
        "the Secure Boot keys are Microsoft's defaults",
        "Secure Boot 키가 Microsoft 기본 키인지 여부",
    ),
    // AMD SEV-SNP
    (
        "x-ms-sevsnpvm-launchmeasurement",
        "measurement of the VM's initial memory (firmware and paravisor) at launch",
        "시작 시 VM 초기 메모리(펌웨어, paravisor)의 측정값",
    ),
    ("x-ms-sevsnpvm-hostdata", "data the host supplied at launch", "시작 시 호스트가 제공한 데이터"),
    (
        "x-ms-sevsnpvm-idkeydigest",
        "digest of the key that signed the launch identity (Azure's)",
        "시작 ID 블록에 서명한 키의 다이제스트 (Azure)",
    ),
    (
        "x-ms-sevsnpvm-authorkeydigest",
        "digest of the identity block's author key (zero when none)",
        "ID 블록 작성자 키의 다이제스트 (없으면 0)",
    ),
    ("x-ms-sevsnpvm-familyId", "family id from the launch identity block", "시작 ID 블록의 family ID"),
    ("x-ms-sevsnpvm-imageId", "image id from the launch identity block", "시작 ID 블록의 image ID"),
    ("x-ms-sevsnpvm-guestsvn", "the guest's security version number", "게스트 보안 버전 번호 (SVN)"),
    (
        "x-ms-sevsnpvm-is-debuggable",
        "the VM can be debugged by the host: must be false",
        "호스트가 VM을 디버그할 수 있는지 여부: false 여야 함",
    ),
    (
        "x-ms-sevsnpvm-migration-allowed",
        "the VM may be migrated by a migration agent",
        "마이그레이션 에이전트에 의한 이전 허용 여부",
    ),
    (
        "x-ms-sevsnpvm-smt-allowed",
        "simultaneous multithreading is allowed on the host",
        "호스트에서 SMT (동시 멀티스레딩) 허용 여부",
    ),
    (
        "x-ms-sevsnpvm-vmpl",
        "the privilege level that requested the report (0 = the paravisor)",
        "보고서를 요청한 권한 수준 (0 = paravisor)",
    ),
    (
        "x-ms-sevsnpvm-reportdata",
        "the 64 bytes the report binds: a hash of the runtime claims",
        "보고서가 바인딩한 64바이트: 런타임 클레임의 해시",
    ),
    ("x-ms-sevsnpvm-reportid", "unique id of this attestation report", "어테스테이션 보고서 고유 ID"),
    (
        "x-ms-sevsnpvm-bootloader-svn",
        "AMD security version of the PSP bootloader",
        "PSP 부트로더의 AMD 보안 버전",
    ),
    (
        "x-ms-sevsnpvm-tee-svn",
        "AMD security version of the PSP operating system (TEE)",
        "PSP OS (TEE)의 AMD 보안 버전",
    ),
    (
        "x-ms-sevsnpvm-snpfw-svn",
        "AMD security version of the SEV-SNP firmware",
        "SEV-SNP 펌웨어의 AMD 보안 버전",
    ),
    (
        "x-ms-sevsnpvm-microcode-svn",
        "AMD security version of the CPU microcode",
        "CPU 마이크로코드의 AMD 보안 버전",
    ),
    // Intel TDX
    (
        "tdx_mrtd",
        "measurement of the TD's initial contents (firmware)",
        "TD 초기 내용(펌웨어)의 측정값 (MRTD)",
    ),
    (
        "tdx_rtmr0",
        "runtime measurement register 0: firmware configuration",
        "런타임 측정 레지스터 0: 펌웨어 구성",
    ),
    (
        "tdx_rtmr1",
        "runtime measurement register 1: OS loader and kernel",
        "런타임 측정 레지스터 1: OS 로더와 커널",
    ),
    ("tdx_rtmr2", "runtime measurement register 2: OS components", "런타임 측정 레지스터 2: OS 구성 요소"),
    (
        "tdx_rtmr3",
        "runtime measurement register 3: reserved for the guest",
        "런타임 측정 레지스터 3: 게스트용 예약",
    ),
    (
        "tdx_mrconfigid",
        "software-defined configuration id set by the host",
        "호스트가 설정한 소프트웨어 정의 구성 ID",
    ),
    ("tdx_mrowner", "software-defined id of the TD's owner", "TD 소유자의 소프트웨어 정의 ID"),
    ("tdx_mrownerconfig", "software-defined owner configuration", "소유자 정의 구성"),
    ("tdx_mrseam", "measurement of the Intel TDX module", "Intel TDX 모듈의 측정값"),
    ("tdx_mrsignerseam", "signer of the TDX module (zero for Intel's)", "TDX 모듈 서명자 (Intel 모듈이면 0)"),
    ("tdx_seam_attributes", "attributes of the TDX module", "TDX 모듈 속성"),
    ("tdx_seamsvn", "security version of the TDX module", "TDX 모듈의 보안 버전"),
    ("tdx_tee_tcb_svn", "security versions of the TDX TCB components", "TDX TCB 구성 요소들의 보안 버전"),
    (
        "tdx_report_data",
        "the 64 bytes the quote binds: a hash of the runtime claims",
        "쿼트가 바인딩한 64바이트: 런타임 클레임의 해시",
    ),
    ("tdx_td_attributes", "the TD's attributes, as bits", "TD 속성 (비트)"),
    (
        "tdx_td_attributes_debug",
        "the TD runs under debug: must be false",
        "TD 디버그 모드 여부: false 여야 함",
    ),
    ("tdx_xfam", "extended CPU features the TD may use (XFAM)", "TD가 사용할 수 있는 확장 CPU 기능 (XFAM)"),
];

/// `(name prefix, English, Korean)` for families of claims named after one bit each.
pub const FAMILIES: &[(&str, &str, &str)] = &[
    ("tdx_td_attributes_", "one TD attribute bit, as a boolean", "TD 속성 비트 하나 (불리언)"),
    ("tdx_xfam_", "one XFAM feature bit, as a boolean", "XFAM 기능 비트 하나 (불리언)"),
];
