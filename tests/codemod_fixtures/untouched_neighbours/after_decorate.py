import os ;  import re   # two on a line
from inbox.distil import instructions
x = {'a':1,
     "b" : 2}  


@some.decorator( 1 ,2 )
@instructions.distil
# between
def b(  y :int=3 ) -> 'M' :
    '''single quotes'''
    return M( )




def after() -> None: ...
