"""DCAT-AP 3.0 metadata as one RDF graph (rdflib), for every place the hub describes data.

Three documents come from here: the catalogue export (every department resource as a
dataset), each release version's ``dcat.jsonld`` (one dataset with its distributions)
and the portal's ``/catalog.jsonld`` (the open catalogue: every published release).
Objects that DCAT-AP types (licences, media types, access rights, frequencies,
themes, publishers) are IRIs carrying their class, dates are typed literals, so the
graph validates against the DCAT-AP 3.0.0 SHACL shapes (tests run pyshacl on it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rdflib import Graph, URIRef

    from schemas.catalog import Catalog
    from schemas.release import Release

BASE_IRI = "https://data.qinghe.example.gov.cn"
EU = "http://publications.europa.eu/resource/authority/"
IANA_MEDIA = "https://www.iana.org/assignments/media-types/"
SPDX_LICENCES = "http://spdx.org/licenses/"

# the portal's files: IANA media type and EU file type of each
MEDIA_TYPES = {
    "csv": ("text/csv", "CSV"),
    "parquet": ("application/vnd.apache.parquet", "PARQUET"),
    "json": ("application/json", "JSON"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "XLSX"),
}
# open class -> EU access-right vocabulary
ACCESS_RIGHTS = {"open": "PUBLIC", "restricted": "RESTRICTED", "closed": "NON_PUBLIC"}
EU_THEME_LABELS = {
    "ECON": "经济与金融",
    "HEAL": "卫生",
    "REGI": "区域与城市",
    "GOVE": "政府与公共部门",
    "EDUC": "教育、文化与体育",
    "SOCI": "人口与社会",
    "TRAN": "交通",
    "ENVI": "环境",
    "JUST": "司法、法律体系与公共安全",
}
# the catalog's release themes -> EU data-theme vocabulary (GOVE where none fits better)
EU_THEMES = {
    "credit": "ECON",
    "legal_entity": "ECON",
    "health": "HEAL",
    "housing": "REGI",
    "urban_governance": "REGI",
    "public_service": "GOVE",
    "education": "EDUC",
    "population": "SOCI",
    "social_security": "SOCI",
    "transport": "TRAN",
    "environment": "ENVI",
    "justice": "JUST",
}


def base_iri() -> str:
    """IRIs of datasets and distributions: ``ONESOURCE_PUBLIC_URL`` when the operator set it
    (the portal's public address), else the city's fixed identifier space."""
    from onesource.settings import get_settings

    configured = get_settings().public_url
    return configured.strip().rstrip("/") if configured else BASE_IRI


def media_type(file_name: str) -> str:
    """The IANA media type of a published file, e.g. ``text/csv`` for ``data.csv``."""
    return MEDIA_TYPES[file_name.rsplit(".", 1)[-1]][0]


def licence_iri(licence: str) -> str:
    """An IRI for a licence given as an IRI already or as an SPDX identifier."""
    if licence.startswith(("http://", "https://")):
        return licence
    return SPDX_LICENCES + licence.strip()


def new_graph() -> Graph:
    from rdflib import Graph, Namespace
    from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, SKOS, XSD

    g = Graph(bind_namespaces="core")
    for prefix, ns in {
        "dcat": DCAT,
        "dct": DCTERMS,
        "foaf": FOAF,
        "owl": OWL,
        "skos": SKOS,
        "xsd": XSD,
        "spdx": Namespace("http://spdx.org/rdf/terms#"),
    }.items():
        g.bind(prefix, ns)
    return g


def _typed(g: Graph, iri: str, cls: URIRef, label: str | None = None) -> URIRef:
    from rdflib import Literal, URIRef
    from rdflib.namespace import RDF, SKOS

    node = URIRef(iri)
    g.add((node, RDF.type, cls))
    if label:
        g.add((node, SKOS.prefLabel, Literal(label, lang="zh")))
    return node


def _publisher(g: Graph, catalog: Catalog, code: str, base: str) -> URIRef:
    from rdflib import Literal
    from rdflib.namespace import DCTERMS, FOAF

    dept = catalog.departments.get(code)
    node = _typed(g, f"{base}/departments/{code}", FOAF.Agent)
    g.add((node, FOAF.name, Literal(dept.name if dept else code, lang="zh")))
    from rdflib.namespace import SKOS

    g.add(
        (
            node,
            DCTERMS.type,
            _typed(g, EU + "corporate-body-classification/GOV", SKOS.Concept, "政府机构"),
        )
    )
    if dept is not None and dept.credit_code:
        g.add((node, DCTERMS.identifier, Literal(dept.credit_code)))
    return node


def _dataset(
    g: Graph,
    catalog: Catalog,
    iri: str,
    identifier: str,
    item: Any,
    publisher: str,
    keywords: Iterable[str],
    themes: Iterable[tuple[str, str]],
    open_class: str,
    base: str,
    landing_page: str | None = None,
) -> URIRef:
    """The description shared by catalogue resources and releases (``item`` has
    ``title``, ``title_en``, ``summary`` and ``update_cycle``)."""
    from rdflib import Literal
    from rdflib.namespace import DCAT, DCTERMS, FOAF

    ds = _typed(g, iri, DCAT.Dataset)
    g.add((ds, DCTERMS.identifier, Literal(identifier)))
    g.add((ds, DCTERMS.title, Literal(item.title, lang="zh")))
    if item.title_en:
        g.add((ds, DCTERMS.title, Literal(item.title_en, lang="en")))
    g.add((ds, DCTERMS.description, Literal(item.summary, lang="zh")))
    g.add((ds, DCTERMS.publisher, _publisher(g, catalog, publisher, base)))
    g.add(
        (
            ds,
            DCTERMS.accrualPeriodicity,
            _typed(g, EU + "frequency/" + item.update_cycle.dcat, DCTERMS.Frequency),
        )
    )
    g.add(
        (
            ds,
            DCTERMS.accessRights,
            _typed(g, EU + "access-right/" + ACCESS_RIGHTS[open_class], DCTERMS.RightsStatement),
        )
    )
    for kw in keywords:
        g.add((ds, DCAT.keyword, Literal(kw, lang="zh")))
    from rdflib.namespace import SKOS

    for theme_iri, label in themes:
        g.add((ds, DCAT.theme, _typed(g, theme_iri, SKOS.Concept, label)))
    if landing_page:
        g.add((ds, DCAT.landingPage, _typed(g, landing_page, FOAF.Document)))
    return ds


def release_themes(theme: str, base: str) -> list[tuple[str, str]]:
    """The EU data theme and the city's own theme concept of a release theme."""
    eu = EU_THEMES.get(theme, "GOVE")
    return [
        (EU + "data-theme/" + eu, EU_THEME_LABELS[eu]),
        (f"{base}/themes/{theme}", theme),
    ]


def add_release(
    g: Graph,
    release: Release,
    catalog: Catalog,
    checksums: dict[str, str],
    sizes: dict[str, int],
    version: int,
    built_at: str,
    base: str = BASE_IRI,
) -> URIRef:
    """Add one release version (a dataset and a distribution per data file) to ``g``."""
    from rdflib import BNode, Literal, Namespace, URIRef
    from rdflib.namespace import DCAT, DCTERMS, OWL, RDF, RDFS, XSD

    spdx = Namespace("http://spdx.org/rdf/terms#")
    page = f"{base}/datasets/{release.name}"  # the portal's dataset page
    iri = page + "#dataset"
    ds = _dataset(
        g,
        catalog,
        iri,
        release.name,
        release,
        release.publisher,
        release.keywords,
        release_themes(release.theme, base),
        release.open_class.value,
        base,
        landing_page=page,
    )
    g.add((ds, DCTERMS.modified, Literal(built_at, datatype=XSD.dateTime)))
    g.add((ds, OWL.versionInfo, Literal(str(version))))
    # dcat:version is DCAT 3; rdflib's closed DCAT namespace predates it
    g.add((ds, URIRef(str(DCAT) + "version"), Literal(str(version))))
    licence = _typed(g, licence_iri(release.licence), DCTERMS.LicenseDocument)
    sha256 = _typed(g, str(spdx.checksumAlgorithm_sha256), spdx.ChecksumAlgorithm)
    for name in sorted(checksums):
        if name not in sizes or "." not in name:
            continue
        ext = name.rsplit(".", 1)[1]
        if ext not in MEDIA_TYPES:
            continue
        mime, eu_type = MEDIA_TYPES[ext]
        dist = URIRef(f"{page}#distribution-{ext}")
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((ds, DCAT.distribution, dist))
        g.add((dist, DCTERMS.title, Literal(f"{release.title} ({ext.upper()})", lang="zh")))
        g.add((dist, DCAT.accessURL, _typed(g, page, RDFS.Resource)))
        download = f"{page}/download/{name}?version={version}"
        g.add((dist, DCAT.downloadURL, _typed(g, download, RDFS.Resource)))
        g.add((dist, DCAT.mediaType, _typed(g, IANA_MEDIA + mime, DCTERMS.MediaType)))
        g.add(
            (
                dist,
                DCTERMS.format,
                _typed(g, EU + "file-type/" + eu_type, DCTERMS.MediaTypeOrExtent),
            )
        )
        g.add((dist, DCAT.byteSize, Literal(sizes[name], datatype=XSD.nonNegativeInteger)))
        g.add((dist, DCTERMS.license, licence))
        g.add((dist, DCTERMS.modified, Literal(built_at, datatype=XSD.dateTime)))
        checksum = BNode()
        g.add((dist, spdx.checksum, checksum))
        g.add((checksum, RDF.type, spdx.Checksum))
        g.add((checksum, spdx.algorithm, sha256))
        g.add((checksum, spdx.checksumValue, Literal(checksums[name], datatype=XSD.hexBinary)))
    return ds


def release_jsonld(
    release: Release,
    catalog: Catalog,
    checksums: dict[str, str],
    sizes: dict[str, int],
    version: int,
    built_at: str,
    base: str | None = None,
) -> str:
    """The ``dcat.jsonld`` of one release version."""
    base = base or base_iri()
    g = new_graph()
    add_release(g, release, catalog, checksums, sizes, version, built_at, base)
    return g.serialize(format="json-ld", auto_compact=True)


def add_catalog_node(
    g: Graph, catalog: Catalog, iri: str, title: str, description: str, base: str
) -> URIRef:
    """A ``dcat:Catalog`` listing every dataset already in ``g``."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

    node = URIRef(iri)
    datasets = list(g.subjects(RDF.type, DCAT.Dataset))
    g.add((node, RDF.type, DCAT.Catalog))
    g.add((node, DCTERMS.title, Literal(title, lang="zh")))
    g.add((node, DCTERMS.description, Literal(description, lang="zh")))
    admin = catalog.departments.get("dga") or next(iter(catalog.departments.values()), None)
    g.add((node, DCTERMS.publisher, _publisher(g, catalog, admin.code if admin else "city", base)))
    g.add((node, FOAF.homepage, _typed(g, base + "/", FOAF.Document)))
    for ds in datasets:
        g.add((node, DCAT.dataset, ds))
    return node


def catalogue_graph(catalog: Catalog, base: str | None = None) -> Graph:
    """The catalogue export: every department resource as a dataset (metadata, no data)."""
    base = base or base_iri()
    from rdflib import Literal, Namespace
    from rdflib.namespace import DCTERMS, XSD

    os_ns = Namespace(base + "/ns#")
    g = new_graph()
    g.bind("os", os_ns)
    for res in catalog.resources.values():
        ds = _dataset(
            g,
            catalog,
            f"{base}/catalog/{res.name}",
            res.code,
            res,
            res.provider,
            res.keywords,
            [(f"{base}/themes/{res.classification.subject}", res.classification.subject)],
            res.open_class.value,
            base,
        )
        g.add((ds, DCTERMS.issued, Literal(res.issued.isoformat(), datatype=XSD.date)))
        g.add((ds, os_ns.shareClass, Literal(res.share_class.value)))
        if res.share_condition:
            g.add((ds, os_ns.shareCondition, Literal(res.share_condition, lang="zh")))
    add_catalog_node(
        g,
        catalog,
        f"{base}/catalog",
        "清河市政务信息资源目录",
        "清河市各部门政务信息资源目录。",
        base,
    )
    return g


def open_catalogue_graph(catalog: Catalog, release_docs: Iterable[str], base: str) -> Graph:
    """The portal's open catalogue: the published releases' own ``dcat.jsonld`` in one catalog."""
    g = new_graph()
    for doc in release_docs:
        g.parse(data=doc, format="json-ld")
    add_catalog_node(
        g,
        catalog,
        f"{base}/catalog.jsonld",
        "清河市公共数据开放目录",
        "清河市公共数据开放平台发布的数据集。",
        base,
    )
    return g


def serialize(g: Graph, fmt: str) -> str:
    """JSON-LD (``jsonld``) or Turtle (``ttl``)."""
    if fmt == "ttl":
        return g.serialize(format="turtle")
    return g.serialize(format="json-ld", auto_compact=True)
