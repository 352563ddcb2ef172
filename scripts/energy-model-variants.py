# Leave-one-CPU-out comparison of estimation-model forms against CodeCarbon's
# estimate on the embedded cpu_load_profiling data (see internal/energy/VALIDATION.md).
# Run from the repository root: python3 scripts/energy-model-variants.py
import csv,os,math
import numpy as np
TDP={'AMD_EPYC_8024P_8C':90,'AMD_Threadripper':180,'E3-1240':69,'E5-1240':69,'E5-2620':170}
CORES={'AMD_EPYC_8024P_8C':8,'AMD_Threadripper':16,'E3-1240':4,'E5-1240':4,'E5-2620':12}
CPU={'AMD_EPYC_8024P_8C':'epyc','AMD_Threadripper':'tr','E3-1240':'e3','E5-1240':'e3','E5-2620':'e5'}
ROOT='internal/energy/data/profiles'
data={}
for d in TDP:
    steps=[]
    for f in ['all_cores.csv','some_cores.csv']:
        rows=list(csv.DictReader(open(os.path.join(ROOT,d,f))))
        T=int(rows[0]['cores_used']) if f=='all_cores.csv' else None
        for r in rows:
            dur=float(r['duration']); steps.append(dict(u=float(r['cpu_load'])/100,f=float(r['cpu_freq']),t=float(r['temperature']),E=float(r['rapl_energy'])*3.6e6,cc=float(r['estimated_energy'])*3.6e6,d=dur))
    T=2*CORES[d]
    fmax=max(s['f'] for s in steps)
    for s in steps: s['c']=min(s['u']*T/CORES[d],1.0); s['s']=max(0,s['u']*T-CORES[d])/CORES[d]; s['fr']=s['f']/fmax
    data[d]=steps
def feats(s,form):
    if form=='lin': return [1,s['u']]
    if form=='smt': return [1,s['c'],s['s']]
    if form=='smt2': return [1,s['c'],s['c']**2,s['s']]
    if form=='sqrt': return [1,math.sqrt(s['u'])]
    if form=='freq': return [1,s['u']*s['fr']**2, s['u']]
    if form=='freqc': return [1,s['c']*s['fr']**2, s['c']]
    if form=='cfr': return [1,s['c']*s['fr']]
def fit(train,form,norm):
    X=[];y=[];w=[]
    cpus={}
    for d in train: cpus.setdefault(CPU[d],[]).append(d)
    for d in train:
        n=sum(len(data[e]) for e in cpus[CPU[d]])
        for s in data[d]:
            X.append(feats(s,form)); y.append(s['E']/s['d']/norm(d)); w.append(1/n)
    X=np.array(X);y=np.array(y);W=np.sqrt(np.array(w))
    b,*_=np.linalg.lstsq(X*W[:,None],y*W,rcond=None)
    return b
def run(form,normname,usesusp):
    norm={'tdp':lambda d:TDP[d],'core':lambda d:CORES[d],'tdpcore':lambda d:TDP[d]}[normname]
    res=[];wins=0;tot=0
    for d in TDP:
        train=[e for e in TDP if CPU[e]!=CPU[d] and (usesusp or e!='E5-1240')]
        b=fit(train,form,norm)
        est=sum(norm(d)*np.dot(b,feats(s,form))*s['d'] for s in data[d])
        E=sum(s['E'] for s in data[d]); cc=sum(s['cc'] for s in data[d])
        je=(est-E)/E; ce=(cc-E)/E
        wins+= abs(je)<abs(ce); tot+=abs(je)
        res.append("%s %+.1f/%+.1f"%(d[:6],je*100,ce*100))
    print("%-6s %-5s susp=%d wins=%d mean=%.1f | %s"%(form,normname,usesusp,wins,tot/5*100,"  ".join(res)))
for form in ['lin','sqrt','smt','smt2','freq','freqc','cfr']:
    for nm in ['tdp','core']:
        for us in [0,1]:
            run(form,nm,us)
